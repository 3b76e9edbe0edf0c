"""What the instance state machine asks the asynchronous layer to do, and what it is told back.

The state machine (:mod:`evqueue.engine.instance`) performs no I/O: each of its methods returns
a list of the frozen dataclasses below, in the order they must be performed. Task results come
back in as :class:`TaskResult`. Every action carries the instance id, so a list of actions from
several instances can be processed by one loop.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

__all__ = [
    "Action",
    "ArmRetry",
    "AttachTask",
    "CancelQueued",
    "CancelRetries",
    "Emit",
    "EnqueueTask",
    "InstanceEnded",
    "KillTask",
    "Spilled",
    "TaskCommand",
    "TaskResult",
]


@dataclass(frozen=True, slots=True)
class TaskCommand:
    """Everything the process layer needs to run one task.

    Attributes:
        instance_id: the workflow instance.
        evqid: the task's evqid in the instance.
        name: the task's ``name`` attribute ("" when absent), for logs.
        type: "BINARY" or "SCRIPT".
        path: the executable: the first word of the task's ``path``, which the process layer
            prefixes with ``processmanager.tasks.directory`` when it is relative; "" for SCRIPT
            tasks.
        args: arguments after the executable: the static words of ``path``, then (CMDLINE mode)
            the values of the non-skipped inputs in document order.
        command_line: a BINARY task's ``path`` left for the monitor to expand (command
            substitution, or forms glibc's ``wordexp`` may crash on); ``path`` is then "" and
            ``args`` holds only the inputs.
        env: the ENV-mode parameters: one per non-skipped input, name → value ("" for an
            unnamed input). The process layer makes them the task's variables, with evQueue's
            fixed ones (:func:`evqueue.process.spec.task_environment`).
        stdin: bytes to pipe into the task (b"" = no pipe).
        script: the script text of a SCRIPT task, else None.
        wd: working directory ("" = the engine's).
        host: remote host ("" = local); user: remote user ("" = ssh default).
        use_agent: run through evqueue_agent on the remote host.
        merge_stderr: stderr goes to the stdout file.
    """

    instance_id: int
    evqid: str
    name: str
    type: str
    path: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    command_line: str = ""
    stdin: bytes = b""
    script: str | None = None
    wd: str = ""
    host: str = ""
    user: str = ""
    use_agent: bool = False
    merge_stderr: bool = False


@dataclass(frozen=True, slots=True)
class Spilled:
    """A text too large for the instance XML, stored in the datastore instead.

    Exactly one of the two is set: the datastore row id, or the error of the failed insert.
    """

    datastore_id: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskResult:
    """How a task process ended.

    Attributes:
        retcode: exit status, -128…127 as evQueue reports it; -1 for a signal or a failure.
        stdout: captured standard output (or where it was spilled).
        stderr: captured standard error; None when the file could not be read.
        log: the evQueue log channel (fd 3); None when absent.
    """

    retcode: int
    stdout: str | Spilled = ""
    stderr: str | Spilled | None = ""
    log: str | Spilled | None = ""


@dataclass(frozen=True, slots=True)
class EnqueueTask:
    """Put a task in a queue (the queue name is resolved: ``name@host`` for dynamic queues)."""

    instance_id: int
    evqid: str
    queue: str
    command: TaskCommand


@dataclass(frozen=True, slots=True)
class AttachTask:
    """After a restart: a task still runs under *tid*; count it in *queue* again."""

    instance_id: int
    evqid: str
    queue: str
    tid: int
    pid: int


@dataclass(frozen=True, slots=True)
class ArmRetry:
    """Call ``retry_now(evqid)`` at *at*."""

    instance_id: int
    evqid: str
    at: datetime.datetime


@dataclass(frozen=True, slots=True)
class CancelRetries:
    """Drop every pending retry of the instance (they were handled by the instance)."""

    instance_id: int


@dataclass(frozen=True, slots=True)
class CancelQueued:
    """Take the instance's tasks out of their queues and report each with ``task_cancelled``."""

    instance_id: int


@dataclass(frozen=True, slots=True)
class KillTask:
    """Terminate a running task (SIGTERM to its monitor, which kills the task's group)."""

    instance_id: int
    evqid: str
    tid: int
    pid: int


@dataclass(frozen=True, slots=True)
class InstanceEnded:
    """The instance is TERMINATED; *errors* is its error count."""

    instance_id: int
    errors: int


@dataclass(frozen=True, slots=True)
class Emit:
    """Publish an event of protocol.md §6.1 (TASK_ENQUEUE, INSTANCE_STARTED…)."""

    event: str
    object_id: int


Action = (
    EnqueueTask | AttachTask | ArmRetry | CancelRetries | CancelQueued | KillTask
    | InstanceEnded | Emit
)
