"""The event bus."""

from __future__ import annotations

import pytest

from evqueue.engine.events import Event, EventBus, EventType


def test_publish_to_subscribers_in_order():
    bus, seen = EventBus(), []
    bus.subscribe(lambda e: seen.append(("all", e)))
    bus.subscribe(lambda e: seen.append(("tasks", e)), types=["TASK_ENQUEUE"])
    bus.emit("INSTANCE_STARTED", 4)
    bus.emit(EventType.TASK_ENQUEUE, 4)
    assert seen == [("all", Event(EventType.INSTANCE_STARTED, 4)),
                    ("all", Event(EventType.TASK_ENQUEUE, 4)),
                    ("tasks", Event(EventType.TASK_ENQUEUE, 4))]


def test_unsubscribe():
    bus, seen = EventBus(), []
    unsubscribe = bus.subscribe(seen.append)
    unsubscribe()
    unsubscribe()
    bus.emit("QUEUE_ENQUEUE")
    assert seen == []


def test_a_failing_subscriber_does_not_stop_the_others(caplog):
    bus, seen = EventBus(), []

    def broken(event):
        raise RuntimeError("bug")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    bus.emit("QUEUE_TERMINATE")
    assert seen == [Event(EventType.QUEUE_TERMINATE, 0)]
    assert "subscriber failed" in caplog.text


def test_unknown_event_type_cannot_exist():
    with pytest.raises(ValueError):
        Event("NO_SUCH_EVENT")  # type: ignore[arg-type]
    assert "WORKFLOWSCHEDULE_STARTED" in EventType.__members__
