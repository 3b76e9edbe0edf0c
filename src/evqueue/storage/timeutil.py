"""Timestamps as the database stores them.

Rules: every timestamp column holds a *naive local* datetime with whole seconds, as
evQueue's MySQL ``NOW()`` does and as its API prints them (``YYYY-MM-DD HH:MM:SS``).
Verbs that record a time take it as an argument (``now``) and fall back to the local clock
only when the caller passes nothing, so the engine and tests decide what "now" is.
"""

from __future__ import annotations

import datetime

__all__ = ["db_time", "local_now", "parse_db_time"]


def local_now() -> datetime.datetime:
    """The current local time, naive, to the second."""
    return datetime.datetime.now().replace(microsecond=0)


def db_time(value: datetime.datetime | None) -> datetime.datetime:
    """``value`` as stored: aware times converted to local, naive, microseconds dropped.

    Args:
        value: A datetime, or None for the current local time.
    """
    if value is None:
        return local_now()
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return value.replace(microsecond=0)


def parse_db_time(value: str | datetime.datetime) -> datetime.datetime:
    """A datetime from an API string (``YYYY-MM-DD[ HH:MM[:SS]]``) or a datetime.

    Raises:
        ValueError: The string is not a date or date and time.
    """
    if isinstance(value, datetime.datetime):
        return db_time(value)
    return db_time(datetime.datetime.fromisoformat(value.strip()))
