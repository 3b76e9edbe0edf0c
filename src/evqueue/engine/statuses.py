"""Statuses of instances, jobs, tasks and inputs, and every transition between them.

Everything that changes a ``status`` attribute goes through :func:`next_status`: it looks the
pair (current status, event) up in the table of the node's kind and raises
:class:`InvalidTransition` for any pair that is not there. The tables are the whole story:

* an instance (``<workflow>``) is EXECUTING from its start until no task is queued, running or
  waiting for a retry; it is then TERMINATED (debug-resume brings a copy back to EXECUTING);
* a task is QUEUED, then EXECUTING, then TERMINATED; a condition makes it SKIPPED or WAITING, an
  error ABORTED; a retry or a debug-resume queues a TERMINATED task again;
* a job has no status while it runs; a condition makes it SKIPPED or WAITING, an error ABORTED;
* an input has no status unless its condition is false (SKIPPED) or its value fails (ABORTED).

``Status.NONE`` stands for "no status attribute". WAITING nodes go back to NONE before their
condition is evaluated again.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "INPUT_TRANSITIONS",
    "INSTANCE_TRANSITIONS",
    "JOB_TRANSITIONS",
    "TASK_TRANSITIONS",
    "InvalidTransition",
    "Status",
    "Trigger",
    "next_status",
]


class Status(StrEnum):
    """Values of the ``status`` attribute ("" = no attribute)."""

    NONE = ""
    EXECUTING = "EXECUTING"
    TERMINATED = "TERMINATED"
    QUEUED = "QUEUED"
    SKIPPED = "SKIPPED"
    WAITING = "WAITING"
    ABORTED = "ABORTED"


class Trigger(StrEnum):
    """What happens to a node."""

    START = "start"  # instance starts (launch, debug-resume)
    END = "end"  # no task queued, running or retrying any more
    ENQUEUE = "enqueue"  # task put in its queue (first run, retry, resume, debug-resume)
    EXECUTE = "execute"  # task process started
    STOP = "stop"  # task process exited
    SKIP = "skip"  # condition is false
    WAIT = "wait"  # evqWait() condition is false
    REEVALUATE = "reevaluate"  # a waiting condition is evaluated again
    ABORT = "abort"  # evaluation error, unknown queue, cancel, start failure, bad XML output


S, T = Status, Trigger

INSTANCE_TRANSITIONS: dict[tuple[Status, Trigger], Status] = {
    (S.NONE, T.START): S.EXECUTING,
    (S.EXECUTING, T.END): S.TERMINATED,
    (S.TERMINATED, T.START): S.EXECUTING,  # debug-resume of a terminated instance
}

TASK_TRANSITIONS: dict[tuple[Status, Trigger], Status] = {
    (S.NONE, T.ENQUEUE): S.QUEUED,
    (S.NONE, T.SKIP): S.SKIPPED,
    (S.NONE, T.WAIT): S.WAITING,
    (S.NONE, T.ABORT): S.ABORTED,
    (S.WAITING, T.REEVALUATE): S.NONE,
    (S.QUEUED, T.ENQUEUE): S.QUEUED,  # engine restart, debug-resume
    (S.QUEUED, T.EXECUTE): S.EXECUTING,
    (S.QUEUED, T.ABORT): S.ABORTED,  # cancelled in its queue, process could not start
    (S.EXECUTING, T.STOP): S.TERMINATED,
    (S.TERMINATED, T.ENQUEUE): S.QUEUED,  # retry, debug-resume
    (S.TERMINATED, T.ABORT): S.ABORTED,  # invalid XML output, retry while cancelling
}

JOB_TRANSITIONS: dict[tuple[Status, Trigger], Status] = {
    (S.NONE, T.SKIP): S.SKIPPED,
    (S.NONE, T.WAIT): S.WAITING,
    (S.NONE, T.ABORT): S.ABORTED,
    (S.WAITING, T.REEVALUATE): S.NONE,
    (S.ABORTED, T.ABORT): S.ABORTED,  # an error inside an already aborted job's chain
}

INPUT_TRANSITIONS: dict[tuple[Status, Trigger], Status] = {
    (S.NONE, T.SKIP): S.SKIPPED,
    (S.NONE, T.ABORT): S.ABORTED,
}

_TABLES: dict[str, dict[tuple[Status, Trigger], Status]] = {
    "workflow": INSTANCE_TRANSITIONS,
    "task": TASK_TRANSITIONS,
    "job": JOB_TRANSITIONS,
    "input": INPUT_TRANSITIONS,
    "stdin": INPUT_TRANSITIONS,
    "script": INPUT_TRANSITIONS,
}


class InvalidTransition(Exception):
    """A trigger that the node's current status does not allow (a bug, never user input)."""

    def __init__(self, kind: str, status: Status, trigger: Trigger) -> None:
        super().__init__(f"{kind}: cannot {trigger.value} from status {status.value or 'NONE'}")
        self.kind = kind
        self.status = status
        self.trigger = trigger


def next_status(kind: str, current: str, trigger: Trigger) -> Status:
    """The status a node of *kind* ("workflow", "job", "task", "input"…) moves to.

    Args:
        kind: the element name of the node.
        current: its current ``status`` attribute ("" when absent).
        trigger: what happens.

    Raises:
        InvalidTransition: the pair is not in the node's table.
    """
    try:
        status = Status(current)
    except ValueError:
        raise InvalidTransition(kind, Status.NONE, trigger) from None
    try:
        return _TABLES[kind][status, trigger]
    except KeyError:
        raise InvalidTransition(kind, status, trigger) from None
