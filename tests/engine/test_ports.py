"""The ports' records and the system clock."""

from __future__ import annotations

import datetime

from evqueue.engine import SystemClock
from evqueue.engine.ports import LaunchError


def test_system_clock_is_local_and_precise():
    # not rounded to the second: a retry due "in 1 s" would otherwise come up to 1 s early
    before = datetime.datetime.now()
    now = SystemClock().now()
    assert now.tzinfo is None
    assert before <= now <= datetime.datetime.now()


def test_launch_error_message():
    assert str(LaunchError("fork failed")) == "fork failed"
