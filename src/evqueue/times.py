"""evQueue's time text: ``YYYY-MM-DD HH:MM:SS``, local time, whole seconds.

Rules: times travel as naive local datetimes everywhere inside a node (engine, its ports, the
store); they become text only at the edge, where XML is written: API answers, the instance
XML (``start_time``, ``retry_at``…), the greeting. This module is the one place that knows the
format, in both directions.
"""

from __future__ import annotations

import datetime

__all__ = ["TIME_FORMAT", "format_time", "parse_time"]

#: The ``strftime`` format of every time evQueue writes.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def format_time(value: datetime.datetime) -> str:
    """``value`` as evQueue writes it (microseconds dropped)."""
    if value.tzinfo is None and value.year >= 1000:  # the same text, several times faster
        return value.isoformat(" ", "seconds")
    return value.strftime(TIME_FORMAT)


def parse_time(text: str) -> datetime.datetime:
    """The naive datetime that :func:`format_time` wrote as ``text``.

    Raises:
        ValueError: ``text`` is not ``YYYY-MM-DD HH:MM:SS``.
    """
    if (len(text) == 19 and text[4] == text[7] == "-" and text[10] == " "
            and text[13] == text[16] == ":"):
        return datetime.datetime.fromisoformat(text)  # the usual case, several times faster
    return datetime.datetime.strptime(text, TIME_FORMAT)
