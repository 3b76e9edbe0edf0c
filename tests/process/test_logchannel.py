"""Tests of evqueue.process.logchannel: fd-3 bytes in, log events out (no I/O)."""

from __future__ import annotations

import pytest

from evqueue.process.logchannel import MAX_LINE, Closed, LogChannel, LogText, Progress, atoi


@pytest.mark.parametrize(
    ("line", "percent"),
    [(b"%50\n", 50), (b"%0\n", 0), (b"%100\n", 100), (b"%250\n", 100), (b"%-3\n", 0),
     (b"% 42abc\n", 42), (b"%abc\n", 0), (b"%\n", 0), (b"%+7\n", 7)],
)
def test_progress_lines(line: bytes, percent: int) -> None:
    assert LogChannel().feed(line) == [Progress(percent)]


def test_double_percent_is_an_escape() -> None:
    assert LogChannel().feed(b"%%50 done\n") == [LogText(b"%50 done\n")]


def test_plain_lines_and_partial_feeds() -> None:
    channel = LogChannel()
    assert channel.feed(b"first li") == []
    assert channel.feed(b"ne\nsecond\n%2") == [LogText(b"first line\n"), LogText(b"second\n")]
    assert channel.feed(b"0\nlast") == [Progress(20)]
    assert channel.feed_eof() == [LogText(b"last")]
    assert channel.feed_eof() == []


def test_close_stops_parsing() -> None:
    channel = LogChannel()
    events = channel.feed(b"kept\n\\close\n%50\nignored\n")
    assert events == [LogText(b"kept\n"), Closed()]
    assert channel.closed
    assert channel.feed(b"more\n") == []
    assert channel.feed_eof() == []


def test_close_must_be_the_whole_line() -> None:
    assert LogChannel().feed(b"\\close now\n") == [LogText(b"\\close now\n")]


def test_long_lines_come_in_fgets_pieces() -> None:
    line = b"x" * (MAX_LINE + 10) + b"\n"
    assert LogChannel().feed(line) == [LogText(b"x" * MAX_LINE), LogText(b"x" * 10 + b"\n")]
    exact = b"y" * (MAX_LINE - 1) + b"\n"
    assert LogChannel().feed(exact) == [LogText(exact)]


def test_atoi() -> None:
    assert atoi(b"  12xyz") == 12
    assert atoi(b"x12") == 0
    assert atoi(b"-4") == -4
