"""The transition tables."""

from __future__ import annotations

import pytest

from evqueue.engine.statuses import (
    TASK_TRANSITIONS,
    InvalidTransition,
    Status,
    Trigger,
    next_status,
)


def test_task_life():
    status = Status.NONE
    for trigger, expected in [(Trigger.ENQUEUE, Status.QUEUED), (Trigger.EXECUTE, Status.EXECUTING),
                              (Trigger.STOP, Status.TERMINATED), (Trigger.ENQUEUE, Status.QUEUED)]:
        status = next_status("task", status, trigger)
        assert status is expected


def test_instance_life():
    assert next_status("workflow", "", Trigger.START) is Status.EXECUTING
    assert next_status("workflow", "EXECUTING", Trigger.END) is Status.TERMINATED
    assert next_status("workflow", "TERMINATED", Trigger.START) is Status.EXECUTING
    with pytest.raises(InvalidTransition):
        next_status("workflow", "TERMINATED", Trigger.END)


@pytest.mark.parametrize(("kind", "status", "trigger"), [
    ("task", "TERMINATED", Trigger.EXECUTE),
    ("task", "SKIPPED", Trigger.ENQUEUE),
    ("task", "ABORTED", Trigger.ENQUEUE),
    ("task", "EXECUTING", Trigger.ENQUEUE),
    ("job", "SKIPPED", Trigger.WAIT),
    ("input", "SKIPPED", Trigger.ABORT),
    ("task", "BOGUS", Trigger.ENQUEUE),
])
def test_invalid(kind, status, trigger):
    with pytest.raises(InvalidTransition) as error:
        next_status(kind, status, trigger)
    assert kind in str(error.value)


def test_waiting_goes_back_to_no_status():
    assert next_status("job", "WAITING", Trigger.REEVALUATE) is Status.NONE
    assert next_status("task", "WAITING", Trigger.REEVALUATE) is Status.NONE


def test_every_target_is_a_status():
    assert all(isinstance(target, Status) for target in TASK_TRANSITIONS.values())
