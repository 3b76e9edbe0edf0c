"""The ports' records and the system clock."""

from __future__ import annotations

import datetime

from evqueue.engine import SystemClock
from evqueue.engine.ports import LaunchError


def test_system_clock_is_local_and_whole_seconds():
    now = SystemClock().now()
    assert now.tzinfo is None and now.microsecond == 0
    assert abs((now - datetime.datetime.now()).total_seconds()) < 5


def test_launch_error_message():
    assert str(LaunchError("fork failed")) == "fork failed"
