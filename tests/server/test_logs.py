"""Engine logging: what a ``t_log`` row holds."""

from __future__ import annotations

import logging

from evqueue.server.logs import DbLogHandler


def logger_with(handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger("evqueue.test.logs")
    log.propagate = False
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG)
    return log


def test_an_exception_is_one_line_without_its_traceback() -> None:
    handler = DbLogHandler(logging.DEBUG)
    log = logger_with(handler)
    try:
        raise OverflowError("Python int too large\nto convert to SQLite INTEGER")
    except OverflowError:
        log.exception("error in %s/%s", "instances", "list")
    (record,) = handler.take()
    assert record.message == (
        "error in instances/list: OverflowError: Python int too large to convert to SQLite INTEGER")
    assert record.level == 3  # LOG_ERR


def test_a_plain_record_is_its_message() -> None:
    handler = DbLogHandler(logging.DEBUG)
    log = logger_with(handler)
    log.warning("[WID %d] Unknown queue name '%s'", 7, "later")
    try:
        raise KeyError()
    except KeyError:
        log.error("lookup failed", exc_info=True)
    assert [(r.level, r.message) for r in handler.take()] == [
        (4, "[WID 7] Unknown queue name 'later'"), (3, "lookup failed: KeyError")]
