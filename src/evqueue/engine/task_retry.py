"""The retry algorithm of a failed task (semantics.md §2.2).

A task that exits with retval ≠ 0 (outside a cancel) is retried according to its attributes:

* ``retry_schedule="name"`` names a ``<schedules/schedule>`` of the instance (global schedules
  are copied in at launch). Its ``<level retry_delay= retry_times=>`` elements are used in
  order: ``retry_schedule_level`` says which one, and ``retry_delay``/``retry_times`` are copied
  onto the task when a level starts. Past the last level there is no retry.
* Without a schedule, ``retry_delay`` and ``retry_times`` on the task give one level.
* ``retry_retval`` restricts retries to that exit code (string comparison).

A retry decrements ``retry_times``, sets ``retry_at`` and emits an ``ArmRetry``; the instance's
``retrying_tasks`` counts it until ``retry_now`` queues the task again. A task that gets no retry
counts one error.
"""

from __future__ import annotations

import datetime

from lxml import etree

from evqueue.attributes import parse_cxx_int
from evqueue.engine.actions import ArmRetry
from evqueue.engine.instance_state import InstanceState
from evqueue.errors import InvalidParameter
from evqueue.model.retry_schedule import RetrySchedule
from evqueue.times import format_time

__all__ = ["arm_retry", "retry_task"]


def retry_task(st: InstanceState, task: etree._Element) -> None:
    """Schedule a retry of a failed task, or count its failure as an error."""
    schedule = task.get("retry_schedule", "")
    level = _int(task.get("retry_schedule_level"))
    if schedule and level == 0:
        delay, times = _next_level(st, task, schedule)
    elif "retry_delay" not in task.attrib or "retry_times" not in task.attrib:
        st.error(task)
        return
    else:
        delay, times = _int(task.get("retry_delay")), _int(task.get("retry_times"))
    if schedule and times == 0:
        delay, times = _next_level(st, task, schedule)
    if delay <= 0 or times <= 0:
        st.error(task)
        return
    if "retry_retval" in task.attrib and task.get("retry_retval") != task.get("retval"):
        st.error(task)
        return
    task.set("retry_times", str(times - 1))
    arm_retry(st, task, st.now + datetime.timedelta(seconds=delay))


def arm_retry(st: InstanceState, task: etree._Element, at: datetime.datetime) -> None:
    """Record a pending retry of *task* at *at* and ask for its timer."""
    evqid = task.get("evqid", "")
    task.set("retry_at", format_time(at))
    st.retry_pending.add(evqid)
    st.count("retrying", 1, task)
    st.emit(ArmRetry(st.instance_id, evqid, at))


def _next_level(st: InstanceState, task: etree._Element, name: str) -> tuple[int, int]:
    """Move the task to the next level of its schedule: (delay, times), (0, 0) past the end."""
    element = next(
        (s for s in st.root.iterfind("schedules/schedule") if s.get("name") == name), None
    )
    try:
        levels = RetrySchedule.from_element(element).levels if element is not None else None
    except InvalidParameter:
        levels = None  # a copy changed by hand in a savepoint: read as a missing schedule
    if levels is None:
        return 0, 0  # evQueue leaves the values undefined; no retry is the safe reading
    level = _int(task.get("retry_schedule_level")) + 1
    task.set("retry_schedule_level", str(level))
    if level > len(levels):
        return 0, 0
    current = levels[level - 1]
    task.set("retry_delay", str(current.delay))
    task.set("retry_times", str(current.times))
    return current.delay, current.times


def _int(value: str | None) -> int:
    """An integer task attribute read as evQueue reads it (:mod:`evqueue.attributes`); 0 when
    absent or not an integer (evQueue throws there: no retry is the safe reading)."""
    number = parse_cxx_int(value) if value is not None else None
    return 0 if number is None else number
