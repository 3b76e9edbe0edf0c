"""The engine's internal event bus, with evQueue's event type names (protocol.md §6.1).

Rules:

* An :class:`Event` is a type name and an object id (the instance id for instance and task
  events, 0 for queue events, the object's id for definitions).
* Subscribers are plain callables taking an :class:`Event`; they run synchronously, in
  subscription order, and must not block. A subscriber that raises is logged and the others
  still run: a faulty listener never breaks the engine.
* The bus does no I/O. The websocket layer subscribes to forward events to clients; the
  scheduler and the notifications subscribe to what they need.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Event", "EventBus", "EventType", "Subscriber"]

logger = logging.getLogger(__name__)


class EventType(StrEnum):
    """Every event type evQueue registers (protocol.md §6.1)."""

    INSTANCE_STARTED = "INSTANCE_STARTED"
    INSTANCE_TERMINATED = "INSTANCE_TERMINATED"
    INSTANCE_TAGGED = "INSTANCE_TAGGED"
    INSTANCE_UNTAGGED = "INSTANCE_UNTAGGED"
    INSTANCE_REMOVED = "INSTANCE_REMOVED"
    TASK_ENQUEUE = "TASK_ENQUEUE"
    TASK_EXECUTE = "TASK_EXECUTE"
    TASK_TERMINATE = "TASK_TERMINATE"
    TASK_PROGRESS = "TASK_PROGRESS"
    QUEUE_ENQUEUE = "QUEUE_ENQUEUE"
    QUEUE_DEQUEUE = "QUEUE_DEQUEUE"
    QUEUE_EXECUTE = "QUEUE_EXECUTE"
    QUEUE_TERMINATE = "QUEUE_TERMINATE"
    QUEUE_CREATED = "QUEUE_CREATED"
    QUEUE_MODIFIED = "QUEUE_MODIFIED"
    QUEUE_REMOVED = "QUEUE_REMOVED"
    WORKFLOW_CREATED = "WORKFLOW_CREATED"
    WORKFLOW_MODIFIED = "WORKFLOW_MODIFIED"
    WORKFLOW_REMOVED = "WORKFLOW_REMOVED"
    WORKFLOW_SUBSCRIBED = "WORKFLOW_SUBSCRIBED"
    WORKFLOW_UNSUBSCRIBED = "WORKFLOW_UNSUBSCRIBED"
    WORKFLOWSCHEDULE_CREATED = "WORKFLOWSCHEDULE_CREATED"
    WORKFLOWSCHEDULE_MODIFIED = "WORKFLOWSCHEDULE_MODIFIED"
    WORKFLOWSCHEDULE_REMOVED = "WORKFLOWSCHEDULE_REMOVED"
    WORKFLOWSCHEDULE_STARTED = "WORKFLOWSCHEDULE_STARTED"
    WORKFLOWSCHEDULE_STOPPED = "WORKFLOWSCHEDULE_STOPPED"
    RETRYSCHEDULE_CREATED = "RETRYSCHEDULE_CREATED"
    RETRYSCHEDULE_MODIFIED = "RETRYSCHEDULE_MODIFIED"
    RETRYSCHEDULE_REMOVED = "RETRYSCHEDULE_REMOVED"
    USER_CREATED = "USER_CREATED"
    USER_MODIFIED = "USER_MODIFIED"
    USER_REMOVED = "USER_REMOVED"
    TAG_CREATED = "TAG_CREATED"
    TAG_MODIFIED = "TAG_MODIFIED"
    TAG_REMOVED = "TAG_REMOVED"
    NOTIFICATION_CREATED = "NOTIFICATION_CREATED"
    NOTIFICATION_MODIFIED = "NOTIFICATION_MODIFIED"
    NOTIFICATION_REMOVED = "NOTIFICATION_REMOVED"
    NOTIFICATION_TYPE_CREATED = "NOTIFICATION_TYPE_CREATED"
    NOTIFICATION_TYPE_REMOVED = "NOTIFICATION_TYPE_REMOVED"
    GIT_PULLED = "GIT_PULLED"
    GIT_SAVED = "GIT_SAVED"
    GIT_LOADED = "GIT_LOADED"
    GIT_REMOVED = "GIT_REMOVED"
    LOG_ENGINE = "LOG_ENGINE"
    LOG_API = "LOG_API"
    LOG_NOTIFICATION = "LOG_NOTIFICATION"
    VARIABLE_SET = "VARIABLE_SET"
    VARIABLE_UNSET = "VARIABLE_UNSET"
    LAUNCHER_CREATED = "LAUNCHER_CREATED"
    LAUNCHER_MODIFIED = "LAUNCHER_MODIFIED"
    LAUNCHER_REMOVED = "LAUNCHER_REMOVED"
    DISPLAY_CREATED = "DISPLAY_CREATED"
    DISPLAY_MODIFIED = "DISPLAY_MODIFIED"
    DISPLAY_REMOVED = "DISPLAY_REMOVED"
    CHANNEL_CREATED = "CHANNEL_CREATED"
    CHANNEL_MODIFIED = "CHANNEL_MODIFIED"
    CHANNEL_REMOVED = "CHANNEL_REMOVED"
    CHANNELGROUP_CREATED = "CHANNELGROUP_CREATED"
    CHANNELGROUP_MODIFIED = "CHANNELGROUP_MODIFIED"
    CHANNELGROUP_REMOVED = "CHANNELGROUP_REMOVED"
    ALERT_CREATED = "ALERT_CREATED"
    ALERT_MODIFIED = "ALERT_MODIFIED"
    ALERT_REMOVED = "ALERT_REMOVED"
    ALERT_TRIGGER = "ALERT_TRIGGER"
    LOG_ELOG = "LOG_ELOG"


@dataclass(frozen=True)
class Event:
    """One event: its type and the object it is about."""

    type: EventType
    object_id: int = 0

    def __post_init__(self) -> None:
        # Checked when built: an event of an unknown type cannot exist.
        object.__setattr__(self, "type", EventType(self.type))


Subscriber = Callable[[Event], None]


class EventBus:
    """Synchronous publish/subscribe of :class:`Event`."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[Subscriber, frozenset[EventType] | None]] = []

    def subscribe(
        self, subscriber: Subscriber, types: Iterable[EventType | str] | None = None
    ) -> Callable[[], None]:
        """Call *subscriber* for every event (of *types* only, when given).

        Returns:
            A function that removes this subscription.
        """
        wanted = None if types is None else frozenset(EventType(t) for t in types)
        entry = (subscriber, wanted)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver *event* to its subscribers."""
        for subscriber, wanted in list(self._subscribers):
            if wanted is not None and event.type not in wanted:
                continue
            try:
                subscriber(event)
            except Exception:  # a listener's bug must not stop the engine
                logger.exception("event subscriber failed on %s", event.type)

    def emit(self, type: EventType | str, object_id: int = 0) -> None:
        """Shortcut for ``publish(Event(type, object_id))``."""
        self.publish(Event(EventType(type), object_id))
