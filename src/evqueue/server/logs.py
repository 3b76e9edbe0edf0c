"""Engine logging: syslog, stderr (when not a daemon) and the database (``t_log``).

Rules:
- evQueue's levels are syslog's (``LOG_EMERG`` … ``LOG_DEBUG``); Python logging gets a NOTICE
  level between INFO and WARNING so the two scales map one to one.
- The database handler never writes on the hot path: it keeps records in a bounded buffer that
  the runner flushes in batches; when the buffer is full the oldest records are dropped and
  counted, never the engine blocked.
- A ``t_log`` row is one line, as ``<logs action="list"/>`` serves it to clients: a record
  carrying an exception stores its message followed by the exception's type and text; the
  traceback goes to stderr and syslog only.
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
import os
import sys
from dataclasses import dataclass
from datetime import datetime

from evqueue.config import Config

__all__ = ["NOTICE", "DbLogHandler", "LogRecord", "python_level", "setup_logging",
           "syslog_level"]

NOTICE = 25
logging.addLevelName(NOTICE, "NOTICE")

# syslog level number → Python level
_TO_PYTHON = {0: logging.CRITICAL, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.ERROR,
              4: logging.WARNING, 5: NOTICE, 6: logging.INFO, 7: logging.DEBUG}


def python_level(syslog: int) -> int:
    """The Python logging level of a syslog level number."""
    return _TO_PYTHON[syslog]


def syslog_level(level: int) -> int:
    """The syslog level number of a Python logging level."""
    if level >= logging.CRITICAL:
        return 2
    if level >= logging.ERROR:
        return 3
    if level >= logging.WARNING:
        return 4
    if level >= NOTICE:
        return 5
    if level >= logging.INFO:
        return 6
    return 7


@dataclass(frozen=True)
class LogRecord:
    """One engine log line as stored in ``t_log``."""

    level: int  # syslog level number
    message: str
    timestamp: datetime


class DbLogHandler(logging.Handler):
    """Buffers records for the database; the owner drains them with ``take()``."""

    def __init__(self, level: int, capacity: int = 10_000) -> None:
        super().__init__(level)
        self._buffer: collections.deque[LogRecord] = collections.deque(maxlen=capacity)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        self._buffer.append(LogRecord(syslog_level(record.levelno), _one_line(record),
                                      datetime.fromtimestamp(record.created)))

    def take(self) -> list[LogRecord]:
        """Remove and return every buffered record."""
        records = list(self._buffer)
        self._buffer.clear()
        return records


def _one_line(record: logging.LogRecord) -> str:
    """The record's message, with its exception (if any) as ``: Type: text``, no traceback."""
    message = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        error = record.exc_info[1]
        detail = " ".join(str(error).split())
        message += f": {type(error).__name__}: {detail}" if detail else f": {type(error).__name__}"
    return message


def setup_logging(cfg: Config, *, to_stderr: bool) -> DbLogHandler | None:
    """Configure the ``evqueue`` logger from ``logger.*`` keys.

    Returns:
        The database handler when ``logger.db.enable`` (the runner flushes it), else None.
    """
    root = logging.getLogger("evqueue")
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(min(python_level(cfg["logger.syslog.filter"]), logging.INFO))
        stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        root.addHandler(stream)
    if cfg["logger.syslog.enable"] and os.path.exists("/dev/log"):
        syslog = logging.handlers.SysLogHandler(address="/dev/log")
        syslog.setLevel(python_level(cfg["logger.syslog.filter"]))
        syslog.setFormatter(logging.Formatter(f"evqueue[{cfg.node_name}]: %(message)s"))
        root.addHandler(syslog)
    db_handler = None
    if cfg["logger.db.enable"]:
        db_handler = DbLogHandler(python_level(cfg["logger.db.filter"]))
        root.addHandler(db_handler)
    # As low as the most talkative handler wants, no lower: debug lines on the hot path
    # (every status change) are then not even built.
    root.setLevel(min((handler.level for handler in root.handlers), default=logging.WARNING))
    return db_handler
