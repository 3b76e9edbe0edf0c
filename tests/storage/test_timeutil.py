"""How times are stored: naive local, whole seconds."""

from __future__ import annotations

import datetime

import pytest

from evqueue.storage.timeutil import db_time, local_now, parse_db_time


def test_db_time_drops_microseconds_and_zone() -> None:
    aware = datetime.datetime(2024, 1, 10, 10, 0, 0, 123456, tzinfo=datetime.UTC)
    stored = db_time(aware)
    assert stored.tzinfo is None and stored.microsecond == 0
    assert stored == aware.astimezone().replace(tzinfo=None, microsecond=0)


def test_db_time_defaults_to_now() -> None:
    before = local_now()
    assert before <= db_time(None) <= local_now()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-10 10:00:05", datetime.datetime(2024, 1, 10, 10, 0, 5)),
        ("2024-01-10", datetime.datetime(2024, 1, 10)),
        (" 2024-01-10 10:00 ", datetime.datetime(2024, 1, 10, 10, 0)),
    ],
)
def test_parse_db_time(text: str, expected: datetime.datetime) -> None:
    assert parse_db_time(text) == expected


def test_parse_db_time_rejects_junk() -> None:
    with pytest.raises(ValueError):
        parse_db_time("yesterday")
