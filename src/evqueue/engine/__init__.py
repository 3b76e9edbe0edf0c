"""evqueue.engine: workflow instances, queues, retries, events and the asynchronous engine.

The pure parts (no I/O, no clock): :class:`Instance` (one instance's state machine over its
XML tree), :class:`QueuePool`, :class:`Retrier`, :class:`EventBus`. The asynchronous part:
:class:`Engine`, which performs their actions through the ports of
:mod:`evqueue.engine.ports`. The errors it raises are those of :mod:`evqueue.errors`.
"""

from evqueue.engine.actions import Spilled, TaskCommand, TaskResult
from evqueue.engine.engine import Engine
from evqueue.engine.events import Event, EventBus, EventType
from evqueue.engine.instance import Instance
from evqueue.engine.pending_retries import Retrier
from evqueue.engine.ports import (
    Clock,
    InstanceStore,
    InstanceWrite,
    LaunchError,
    NewInstanceRow,
    StoredInstance,
    SystemClock,
    TaskLauncher,
    WorkflowDefinition,
    WorkflowSource,
)
from evqueue.engine.queues import QueueDefinition, QueueFigures, QueuePool
from evqueue.engine.settings import EngineSettings
from evqueue.engine.statistics import EndedInstance, EngineStatistics
from evqueue.engine.statuses import InvalidTransition, Status

__all__ = [
    "Clock",
    "EndedInstance",
    "Engine",
    "EngineSettings",
    "EngineStatistics",
    "Event",
    "EventBus",
    "EventType",
    "Instance",
    "InstanceStore",
    "InstanceWrite",
    "InvalidTransition",
    "LaunchError",
    "NewInstanceRow",
    "QueueDefinition",
    "QueueFigures",
    "QueuePool",
    "Retrier",
    "Spilled",
    "Status",
    "StoredInstance",
    "SystemClock",
    "TaskCommand",
    "TaskLauncher",
    "TaskResult",
    "WorkflowDefinition",
    "WorkflowSource",
]
