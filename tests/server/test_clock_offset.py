"""The scheduler's clock: the wall clock, shifted only when a test sets EVQUEUE_CLOCK_OFFSET."""

from __future__ import annotations

import datetime
import logging

import pytest

from evqueue.server.clock_offset import CLOCK_OFFSET_ENV, clock_offset, scheduler_clock


def test_without_the_variable_the_scheduler_gets_the_wall_clock() -> None:
    assert scheduler_clock({}) == datetime.datetime.now
    assert scheduler_clock({CLOCK_OFFSET_ENV: "0"}) == datetime.datetime.now


@pytest.mark.parametrize(("value", "seconds"), [("5", 5.0), ("-2.5", -2.5)])
def test_the_variable_shifts_the_clock_and_says_so(value: str, seconds: float,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="evqueue.server"):
        clock = scheduler_clock({CLOCK_OFFSET_ENV: value})
    offset = datetime.timedelta(seconds=seconds)
    before = datetime.datetime.now()
    shifted = clock()
    after = datetime.datetime.now()
    assert before + offset <= shifted <= after + offset
    assert f"scheduler: clock shifted by {seconds:+.3f} s" in caplog.text


@pytest.mark.parametrize("value", ["soon", "1e400", ""])
def test_a_value_that_is_no_number_of_seconds_shifts_nothing(value: str) -> None:
    assert clock_offset({CLOCK_OFFSET_ENV: value}) == datetime.timedelta()
