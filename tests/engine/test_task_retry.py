"""The retry algorithm (semantics.md §2.2)."""

from __future__ import annotations

import datetime

from evqueue.engine.actions import ArmRetry, InstanceEnded
from tests.engine.drive import Driver, Outcome, make_instance
from tests.engine.fakes import START
from tests.engine.workflows import SHORT, TWO_LEVELS, simple


def attempts_driver(task: str, retcodes: list[int], schedules: dict[str, str] | None = None):
    codes = iter(retcodes)
    return Driver(make_instance(simple(task), schedules=schedules),
                  lambda command: Outcome(next(codes, 0)))


def at(seconds: int) -> datetime.datetime:
    return START + datetime.timedelta(seconds=seconds)


def test_two_level_schedule_fails_twice_then_succeeds():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_schedule="two"/>',
                        [1, 1, 0], {"two": TWO_LEVELS})
    d.start().run()
    task = d.task("t")
    assert d.retries == [ArmRetry(1, task.get("evqid"), at(10))]
    assert (task.get("retry_schedule_level"), task.get("retry_times")) == ("1", "0")
    d.fire_retries()
    fired = [a for a in d.log if isinstance(a, ArmRetry)]
    # the second failure exhausts level 1 and arms level 2's delay, from the second failure
    assert [a.at for a in fired] == [at(10), at(70)]
    assert (task.get("retry_schedule_level"), task.get("retry_delay")) == ("2", "60")
    assert [o.get("retval") for o in task.iterfind("output")] == ["1", "1", "0"]
    assert task.get("status") == "TERMINATED" and task.get("retval") == "0"
    assert d.ended == InstanceEnded(1, 0)


def test_schedule_exhausted_counts_one_error():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_schedule="two"/>',
                        [1, 1, 1], {"two": TWO_LEVELS})
    d.start().run()
    d.fire_retries()
    task = d.task("t")
    assert task.get("retry_schedule_level") == "3"
    assert len(list(task.iterfind("output"))) == 3
    assert d.ended == InstanceEnded(1, 1)


def test_short_schedule_runs_at_most_six_times():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_schedule="short"/>',
                        [1] * 10, {"short": SHORT})
    d.start().run()
    d.fire_retries()
    assert len(d.commands) == 1 + 3 + 2
    delays = [int((a.at - START).total_seconds()) for a in d.log if isinstance(a, ArmRetry)]
    assert delays == [10, 20, 30, 630, 1230]


def test_simple_retry_attributes():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_delay="5" '
                        'retry_times="2"/>', [1, 1, 1])
    d.start().run()
    d.fire_retries()
    assert len(d.commands) == 3
    assert d.task("t").get("retry_times") == "0"
    assert d.ended == InstanceEnded(1, 1)


def test_retry_retval_mismatch_does_not_retry():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_delay="5" '
                        'retry_times="2" retry_retval="75"/>', [3])
    d.start().run()
    assert d.retries == [] and d.ended == InstanceEnded(1, 1)


def test_retry_retval_match_retries():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_delay="5" '
                        'retry_times="2" retry_retval="75"/>', [75, 0])
    d.start().run()
    assert len(d.retries) == 1
    d.fire_retries()
    assert d.ended == InstanceEnded(1, 0)


def test_no_retry_configured():
    d = attempts_driver('<task name="t" path="x" queue="default"/>', [2])
    d.start().run()
    assert d.retries == [] and d.ended == InstanceEnded(1, 1)


def test_retrying_keeps_the_instance_alive():
    d = attempts_driver('<task name="t" path="x" queue="default" retry_delay="5" '
                        'retry_times="1"/>', [1, 0])
    d.start().run()
    assert d.ended is None and d.root.get("status") == "EXECUTING"
    assert d.root.get("retrying_tasks") == "1"
    d.fire_retries()
    assert d.root.get("retrying_tasks") == "0" and d.ended == InstanceEnded(1, 0)


def test_stale_retry_is_ignored():
    d = attempts_driver('<task name="t" path="x" queue="default"/>', [0])
    d.start().run()
    assert d.instance.retry_now(d.task("t").get("evqid"), d.now) == []


def test_a_schedule_copy_that_does_not_read_gives_no_retry():
    # A savepoint edited by hand: the instance's copy of the schedule has no usable level.
    broken = '<schedule><level retry_delay="soon" retry_times="2"/></schedule>'
    d = attempts_driver('<task name="t" path="x" queue="default" retry_schedule="b"/>',
                        [1, 0], {"b": broken})
    d.start().run()
    assert d.retries == [] and len(d.commands) == 1
    assert d.ended == InstanceEnded(1, 1)
