"""One line a second at most for a condition that repeats, with the count of the quiet ones."""

from __future__ import annotations

import logging

from evqueue.server.throttled_log import ThrottledLog


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_repeats_within_the_interval_are_counted_in_the_next_line(caplog):
    clock = Clock()
    report = ThrottledLog(logging.getLogger("tests.throttled_log"), logging.WARNING,
                          clock=clock)
    with caplog.at_level(logging.WARNING, logger="tests.throttled_log"):
        assert report("refused %s", "a")
        assert [report("refused %s", n) for n in range(500)] == [False] * 500
        clock.now += 0.999
        assert not report("refused %s", "b")
        clock.now += 0.001
        assert report("refused %s", "c")
        clock.now += 5
        assert report("refused %s", "d")
    assert [r.getMessage() for r in caplog.records] == [
        "refused a",
        "refused c (501 more like this since the last line)",
        "refused d",
    ]
    assert {r.levelno for r in caplog.records} == {logging.WARNING}
