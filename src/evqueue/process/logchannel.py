"""The task log channel (fd 3): a sans-I/O line parser.

A task writes lines on fd 3. The monitor feeds what it reads to :class:`LogChannel` and acts on
the events that come out; no I/O happens here. Rules, as evQueue's monitor applies them:

- Lines are read as ``fgets(buf, 4096)`` does: a line longer than :data:`MAX_LINE` bytes is
  handled in pieces of :data:`MAX_LINE` bytes.
- ``%NN`` (first byte ``%``, second byte not ``%``) → :class:`Progress`, with ``atoi`` of what
  follows the ``%``, clamped to 0–100. The line is not written to the log.
- ``%%text`` → :class:`LogText` ``%text`` (the first ``%`` is an escape).
- ``\\close`` followed by a newline → :class:`Closed`; nothing after it is parsed.
- Anything else → :class:`LogText` with the line as is (newline included).
- At end of stream, a last line without a newline is handled like any other line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MAX_LINE", "Closed", "LogChannel", "LogEvent", "LogText", "Progress", "atoi"]

#: Longest line piece, as ``fgets`` with a 4096-byte buffer returns.
MAX_LINE = 4095

_CLOSE_LINE = b"\\close\n"
_ATOI = re.compile(rb"\s*([+-]?\d+)")


@dataclass(frozen=True)
class Progress:
    """The task reported its progress."""

    percent: int


@dataclass(frozen=True)
class LogText:
    """A piece of text for the task's log file."""

    data: bytes


@dataclass(frozen=True)
class Closed:
    """The task closed the log channel (``\\close``)."""


LogEvent = Progress | LogText | Closed


def atoi(data: bytes) -> int:
    """C ``atoi``: optional spaces and sign, then digits; 0 when there are none."""
    match = _ATOI.match(data)
    return int(match.group(1)) if match else 0


class LogChannel:
    """Turns the bytes of fd 3 into log events."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.closed = False

    def feed(self, data: bytes) -> list[LogEvent]:
        """Add bytes read from the channel.

        Args:
            data: the bytes.

        Returns:
            The events of every complete line (or full :data:`MAX_LINE` piece).
        """
        if self.closed:
            return []
        self._buffer += data
        events: list[LogEvent] = []
        while not self.closed:
            end = self._buffer.find(b"\n", 0, MAX_LINE)
            if end >= 0:
                end += 1
            elif len(self._buffer) >= MAX_LINE:
                end = MAX_LINE
            else:
                break
            line = bytes(self._buffer[:end])
            del self._buffer[:end]
            events.append(self._parse_line(line))
        return events

    def feed_eof(self) -> list[LogEvent]:
        """Signal the end of the channel.

        Returns:
            The event of a last unterminated line, if any.
        """
        if self.closed or not self._buffer:
            return []
        line = bytes(self._buffer)
        self._buffer.clear()
        return [self._parse_line(line)]

    def _parse_line(self, line: bytes) -> LogEvent:
        if line == _CLOSE_LINE:
            self.closed = True
            return Closed()
        if line[:1] == b"%":
            if line[1:2] != b"%":
                return Progress(min(max(atoi(line[1:]), 0), 100))
            return LogText(line[1:])
        return LogText(line)
