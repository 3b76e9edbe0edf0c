"""What the asynchronous engine needs from the rest of the system, as ``typing.Protocol``s.

The engine never forks, never builds SQL and never reads definitions itself: the runner
(``evqueue.server``) hands it objects with these shapes:

* :class:`TaskLauncher` — the process layer (forker, monitors): start and kill task processes.
  Exits and progress come back through :meth:`Engine.task_exited` and
  :meth:`Engine.task_progress`.
* :class:`InstanceStore` — storage verbs on ``t_workflow_instance`` and friends.
* :class:`WorkflowSource` — workflow definitions and retry schedules.
* :class:`Clock` — the wall clock (local time), replaceable in tests.

The records exchanged are frozen dataclasses defined here; their times are naive local
datetimes (the text ``YYYY-MM-DD HH:MM:SS`` is only written in XML, :mod:`evqueue.times`).
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from evqueue.engine.actions import TaskCommand

__all__ = [
    "Clock",
    "InstanceStore",
    "InstanceWrite",
    "LaunchError",
    "NewInstanceRow",
    "StoredInstance",
    "SystemClock",
    "TaskLauncher",
    "WorkflowDefinition",
    "WorkflowSource",
]


class LaunchError(Exception):
    """A task process could not be started; the message is recorded on the task as
    ``error="Task execution : <message>"``."""


class TaskLauncher(Protocol):
    """Starts and kills task processes (the process layer's ProcessManager, adapted)."""

    async def spawn(self, tid: int, command: TaskCommand, record: bool = False) -> int:
        """Start *command* as task slot *tid*; return the monitor's pid.

        With *record*, the start is first recorded (under the command's instance id and
        evqid) where a restarted engine finds it (:meth:`recorded_tids`), so that the task
        is never started twice.

        Raises:
            LaunchError: the process could not be started (nor recorded).
        """
        ...

    def kill(self, tid: int, pid: int) -> None:
        """Terminate task *tid* (SIGTERM to its monitor *pid*, which kills the task group)."""
        ...

    def release(self, tid: int) -> None:
        """Task *tid*'s result is stored: what the process layer kept for it may go (until
        then an engine killed and restarted can rebuild the result)."""
        ...

    def started_monitor(self, tid: int) -> int | None:
        """The monitor pid of task slot *tid* if a monitor started for it (it may have
        ended since), None if none did. Read at resume, before anything is spawned."""
        ...

    def recorded_tids(self, instance_id: int, evqid: str) -> list[int]:
        """The tids under which the previous run recorded starting this task (``spawn``'s
        *record*), given once for each task: the records are read at the first call, before
        this run spawns anything, and a later start of the task is this run's."""
        ...


@dataclass(frozen=True)
class WorkflowDefinition:
    """A row of ``t_workflow``: its id, name and stored XML (root ``<workflow>``)."""

    id: int
    name: str
    xml: str


class WorkflowSource(Protocol):
    """Definitions, as cached by the definitions layer."""

    async def get_workflow(self, key: str | int) -> WorkflowDefinition:
        """The workflow named *key* (str) or with id *key* (int).

        Raises:
            UnknownObjectName: unknown workflow name (``Unknown Workflow name : X``,
                code ``UKNOWN_OBJECT``); UnknownObject: unknown id (``UNKNOWN_OBJECT``).
        """
        ...

    async def get_retry_schedule(self, name: str) -> str | None:
        """The ``<schedule>`` XML of a global retry schedule, or None if unknown."""
        ...


@dataclass(frozen=True)
class NewInstanceRow:
    """The EXECUTING row inserted at launch (savepoint level ≥ 2), with the savepoint of the
    instance not started yet (empty without ``savepoint``)."""

    workflow_id: int
    node_name: str
    schedule_id: int | None
    host: str
    comment: str
    #: The launch time (local, naive).
    start_time: datetime.datetime
    #: Launch parameters to store in ``t_workflow_instance_parameters``; None: do not store.
    parameters: tuple[tuple[str, str], ...] | None
    #: The instance's savepoint for the row's id, stored with the row (one transaction).
    savepoint: Callable[[int], str] | None = None


@dataclass(frozen=True)
class InstanceWrite:
    """One savepoint write of an instance.

    ``insert`` (savepoint levels 0 and 1): write the whole row, creating it (the row only
    exists in the database from a shutdown until the next resume, and after termination).
    Otherwise update the row created at launch. A TERMINATED write also updates status,
    errors and end time; at levels ≥ 2 it carries the custom attributes
    (``t_workflow_instance_filters``) and the automatic tags to apply.
    """

    instance_id: int
    workflow_id: int
    schedule_id: int | None
    node_name: str
    host: str | None
    comment: str | None
    status: str
    #: Local naive times; a missing start time (an instance not started) stores "now".
    start_time: datetime.datetime | None
    end_time: datetime.datetime | None
    errors: int
    savepoint: str
    insert: bool
    custom_filters: tuple[tuple[str, str], ...] | None = None
    tags: tuple[str, ...] | None = None
    #: tids of task results this write is the first to hold: what the process layer keeps
    #: for them may go once it is stored.
    results: tuple[int, ...] = ()


@dataclass(frozen=True)
class StoredInstance:
    """A row of ``t_workflow_instance`` as read back."""

    instance_id: int
    workflow_id: int
    schedule_id: int | None
    node_name: str
    status: str
    savepoint: str
    host: str | None = None
    comment: str | None = None


class LaunchTurn(Protocol):
    """A launch's place among launches whose ids must follow their order (the pipelined
    launches of one connection), although they run at the same time."""

    async def wait(self) -> None:
        """Return once every launch before this one has asked for its id."""
        ...

    def taken(self) -> None:
        """This launch has asked for its id: the next one may."""
        ...


class InstanceStore(Protocol):
    """Storage verbs the engine calls (SQL lives under ``evqueue.storage``)."""

    async def max_instance_id(self) -> int:
        """``MAX(workflow_instance_id)`` (0 when empty): ids at levels 0/1 continue from it."""
        ...

    def create_instance(self, row: NewInstanceRow, *, alone: bool = False) -> Awaitable[int]:
        """Ask for the EXECUTING row of a launch (level ≥ 2) to be inserted; await its id.
        Rows asked for in turn get increasing ids. ``alone``: the launch is not part of a
        burst; its row need not wait to share a transaction with others."""
        ...

    async def write_instances(self, writes: Sequence[InstanceWrite]) -> None:
        """Apply several savepoint writes in one transaction."""
        ...

    async def load_executing(self, node_name: str) -> list[StoredInstance]:
        """The EXECUTING rows of *node_name* (to resume at start-up)."""
        ...

    async def mark_terminated(self, instance_id: int) -> None:
        """Set an EXECUTING row with an empty savepoint to TERMINATED (it cannot resume)."""
        ...

    async def delete_executing(self) -> None:
        """Delete every EXECUTING row (levels 0/1, after they were resumed)."""
        ...

    async def load_instance(self, instance_id: int) -> StoredInstance | None:
        """One row, or None."""
        ...

    async def clone_instance(
        self, source: StoredInstance, *, node_name: str, copy_parameters: bool
    ) -> int:
        """Insert an EXECUTING copy of a TERMINATED row (debug-resume, level ≥ 2) with the
        same workflow, host, comment and savepoint, no schedule; return the new id."""
        ...

    async def set_node(self, instance_id: int, node_name: str) -> None:
        """Give an EXECUTING row to another node (migrate)."""
        ...

    async def store_datastore(self, instance_id: int, value: str) -> int:
        """Insert a large output into ``t_datastore``; return its id."""
        ...


class Clock(Protocol):
    """The wall clock, in local time (evQueue's times are local)."""

    def now(self) -> datetime.datetime:
        """The current local time (naive)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime.datetime:
        """The current local time. Kept to the microsecond: the XML shows seconds only, but
        a retry due "in 1 s" must not come early because "now" was rounded down."""
        return datetime.datetime.now()
