"""evQueue's time text, written and read back."""

from __future__ import annotations

import datetime

import pytest

from evqueue.times import TIME_FORMAT, format_time, parse_time


def test_a_time_is_written_to_the_second() -> None:
    when = datetime.datetime(2024, 2, 3, 4, 5, 6, 999999)
    assert format_time(when) == "2024-02-03 04:05:06" == when.strftime(TIME_FORMAT)


def test_a_year_before_1000_is_written_as_strftime_writes_it() -> None:
    when = datetime.datetime(999, 12, 31, 23, 59, 59)
    assert format_time(when) == when.strftime(TIME_FORMAT)


@pytest.mark.parametrize("text", ["2024-02-03 04:05:06", "2024-2-3 4:05:06"])
def test_a_written_time_is_read_back(text: str) -> None:
    assert parse_time(text) == datetime.datetime(2024, 2, 3, 4, 5, 6)


@pytest.mark.parametrize("text", ["", "2024-02-03", "2024-02-03T04:05:06", "2024-02-03 04:05:0x",
                                  "2024-02-03 25:05:06", "2024-02-03 04:05:06+01:00"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)
