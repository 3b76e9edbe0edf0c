"""The queue pool: named queues with a concurrency and a scheduler (semantics.md §3).

Pure bookkeeping, no I/O:

* A queue holds waiting tasks and counts its running ones. It lets a task out only while
  ``running < concurrency``: a task never runs when its queue is full.
* ``fifo`` lets tasks out in arrival order; ``prio`` lets the oldest instance's tasks (lowest
  instance id) out first; ``default`` is ``queuepool.scheduler``.
* :meth:`QueuePool.next_runnable` looks at the queues in name order and takes the first task
  of the first queue that may run one (evQueue's static priority by name).
* A dynamic queue ``q`` with a task host ``h`` sends the task to ``q@h``, created on demand
  with q's concurrency and scheduler, and removed once empty and idle: concurrency then
  applies per remote host.
* :meth:`QueuePool.reload` applies new definitions: updated in place, scheduler changes keep
  the waiting tasks; a queue that disappears is removed once empty and idle.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["QueueDefinition", "QueueFigures", "QueuePool", "QueuedTask"]

SCHEDULERS = ("fifo", "prio")


@dataclass(frozen=True)
class QueueDefinition:
    """A row of ``t_queue``."""

    name: str
    concurrency: int = 1
    scheduler: str = "default"  # fifo, prio or default
    dynamic: bool = False
    id: int = 0


@dataclass(frozen=True, slots=True)
class QueuedTask:
    """A task waiting in a queue; *payload* is the caller's (e.g. the task command)."""

    instance_id: int
    evqid: str
    payload: Any = None


@dataclass(frozen=True)
class QueueFigures:
    """``statistics type=queue`` figures of one queue."""

    name: str
    concurrency: int
    size: int
    running_tasks: int
    scheduler: str


@dataclass
class _Queue:
    definition: QueueDefinition
    scheduler: str  # resolved: fifo or prio
    running: int = 0
    removed: bool = False  # delete once empty and idle
    fifo: deque[QueuedTask] = field(default_factory=deque)
    prio: list[tuple[int, int, QueuedTask]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.fifo) + len(self.prio)

    def can_run(self) -> bool:
        return self.size > 0 and self.running < self.definition.concurrency

    def push(self, task: QueuedTask, seq: int) -> None:
        if self.scheduler == "prio":
            heapq.heappush(self.prio, (task.instance_id, seq, task))
        else:
            self.fifo.append(task)

    def pop(self) -> QueuedTask:
        if self.prio:
            return heapq.heappop(self.prio)[2]
        return self.fifo.popleft()

    def drain(self) -> list[QueuedTask]:
        tasks = list(self.fifo) + [entry[2] for entry in sorted(self.prio)]
        self.fifo.clear()
        self.prio.clear()
        return tasks


class QueuePool:
    """All queues of the node.

    Args:
        definitions: the queues of ``t_queue``.
        default_scheduler: ``queuepool.scheduler`` (what ``default`` means).
    """

    def __init__(
        self, definitions: Iterable[QueueDefinition] = (), default_scheduler: str = "fifo"
    ) -> None:
        if default_scheduler not in SCHEDULERS:
            raise ValueError(f"Invalid scheduler name '{default_scheduler}'")
        self.default_scheduler = default_scheduler
        self._queues: dict[str, _Queue] = {}
        self._seq = itertools.count()
        self.reload(definitions)

    # -- definitions --------------------------------------------------------------------------

    def reload(self, definitions: Iterable[QueueDefinition]) -> None:
        """Apply a new set of queue definitions."""
        wanted = {d.name: d for d in definitions}
        for name, queue in list(self._queues.items()):
            if name not in wanted:
                queue.removed = True
                self._drop_if_idle(name)
        for name, definition in wanted.items():
            queue = self._queues.get(name)
            scheduler = self._resolve_scheduler(definition.scheduler)
            if queue is None:
                self._queues[name] = _Queue(definition, scheduler)
                continue
            queue.definition, queue.removed = definition, False
            if scheduler != queue.scheduler:
                waiting = queue.drain()
                queue.scheduler = scheduler
                for task in waiting:
                    queue.push(task, next(self._seq))

    def definitions(self) -> list[QueueDefinition]:
        """The configured queues (not the dynamic ``q@host`` ones), by name."""
        return [q.definition for name, q in sorted(self._queues.items())
                if name == q.definition.name and not q.removed]

    def resolve(self, queue: str, host: str) -> str | None:
        """The queue a task of *queue* with *host* goes to, or None for an unknown queue."""
        base = self._queues.get(queue)
        if base is None or base.definition.name != queue:
            return None  # unknown, or the name of an automatic queue@host
        if base.definition.dynamic and host:
            return f"{queue}@{host}"
        return queue

    # -- tasks --------------------------------------------------------------------------------

    def enqueue(self, queue: str, task: QueuedTask) -> None:
        """Add *task* to *queue* (a name returned by :meth:`resolve`).

        Raises:
            KeyError: the queue does not exist.
        """
        self._queue(queue).push(task, next(self._seq))

    def next_runnable(self) -> tuple[str, QueuedTask] | None:
        """Take the next task allowed to run and count it as running, or None."""
        for name in sorted(self._queues):
            queue = self._queues[name]
            if queue.can_run():
                queue.running += 1
                return name, queue.pop()
        return None

    def attach(self, queue: str) -> None:
        """Count a task that already runs (found running after a restart)."""
        self._queue(queue).running += 1

    def task_finished(self, queue: str) -> None:
        """A task counted as running in *queue* has ended."""
        current = self._queues.get(queue)
        if current is None:
            return
        current.running = max(0, current.running - 1)
        self._drop_if_idle(queue)

    def cancel_instance(self, instance_id: int) -> list[QueuedTask]:
        """Take every waiting task of an instance out of the queues."""
        cancelled: list[QueuedTask] = []
        for name, queue in list(self._queues.items()):
            for task in queue.drain():
                if task.instance_id == instance_id:
                    cancelled.append(task)
                else:
                    queue.push(task, next(self._seq))
            self._drop_if_idle(name)
        return cancelled

    # -- figures ------------------------------------------------------------------------------

    def statistics(self) -> list[QueueFigures]:
        """Per-queue figures, by name (``statistics type=queue``)."""
        return [QueueFigures(name, q.definition.concurrency, q.size, q.running, q.scheduler)
                for name, q in sorted(self._queues.items())]

    def figures(self, queue: str) -> QueueFigures | None:
        """Figures of one queue, or None."""
        return next((f for f in self.statistics() if f.name == queue), None)

    # -- internals ----------------------------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        queue = self._queues.get(name)
        if queue is not None:
            return queue
        base_name, at, host = name.partition("@")
        base = self._queues.get(base_name)
        if not at or base is None or not base.definition.dynamic:
            raise KeyError(name)
        # A dynamic queue: same concurrency and scheduler, removed once empty and idle.
        queue = _Queue(base.definition, base.scheduler, removed=True)
        self._queues[name] = queue
        return queue

    def _drop_if_idle(self, name: str) -> None:
        queue = self._queues.get(name)
        if queue is not None and queue.removed and queue.size == 0 and queue.running == 0:
            del self._queues[name]

    def _resolve_scheduler(self, scheduler: str) -> str:
        if scheduler == "default":
            return self.default_scheduler
        if scheduler not in SCHEDULERS:
            raise ValueError(f"Invalid scheduler name '{scheduler}'")
        return scheduler
