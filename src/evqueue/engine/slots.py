"""Task slots: the ``tid`` of every task process the engine started or re-attached.

A tid names a task's log files and its exit message, so it must be unique on the node while the
task runs, including across engine restarts: allocation continues after the highest tid seen
(resumed instances report theirs) and skips the ones in use, wrapping at ``tid_max``. A tid
stays taken after its task ended until the result is stored (:meth:`TaskSlots.hold`): the
process layer keeps that task's files under its tid until then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Slot", "TaskSlots"]


@dataclass
class Slot:
    """A task process: which task, in which queue, under which monitor pid (0 while starting)."""

    instance_id: int
    evqid: str
    queue: str
    pid: int = 0
    early_exit: tuple | None = field(default=None, repr=False)  # exit seen before the start
    early_progress: int | None = None  # progress reported before the start was recorded
    resumed: bool = False  # re-attached after an engine restart


class TaskSlots:
    """tid → :class:`Slot`."""

    def __init__(self, tid_max: int) -> None:
        self.tid_max = tid_max
        self._slots: dict[int, Slot] = {}
        self._held: set[int] = set()  # ended, result not stored yet
        self._last = 0

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, tid: int) -> bool:
        return tid in self._slots

    def allocate(self, slot: Slot) -> int:
        """Give *slot* the next free tid.

        Raises:
            RuntimeError: every tid is in use.
        """
        for _ in range(self.tid_max):
            self._last = self._last % self.tid_max + 1
            if self._last not in self._slots and self._last not in self._held:
                self._slots[self._last] = slot
                return self._last
        raise RuntimeError(f"Could not allocate task ID, maxpid ({self.tid_max}) is reached")

    def skip_past(self, tids: Iterable[int]) -> None:
        """Allocate after these tids from now on (tasks of a previous run may still use
        them)."""
        self._last = max([self._last, *(t for t in tids if 0 < t <= self.tid_max)])

    def attach(self, tid: int, slot: Slot) -> None:
        """Register a task found running after a restart under *tid*."""
        self._slots[tid] = slot
        self._last = max(self._last, tid)

    def hold(self, tid: int) -> None:
        """Keep *tid* from being allocated until :meth:`unhold`."""
        self._held.add(tid)

    def unhold(self, tid: int) -> None:
        """*tid* may be allocated again."""
        self._held.discard(tid)

    def known(self) -> set[int]:
        """Every tid in use or held."""
        return set(self._slots) | self._held

    def get(self, tid: int) -> Slot | None:
        """The slot of *tid*, or None."""
        return self._slots.get(tid)

    def release(self, tid: int) -> Slot | None:
        """Free *tid*; return its slot (None if unknown)."""
        return self._slots.pop(tid, None)

    def items(self) -> list[tuple[int, Slot]]:
        """(tid, slot) of every task process."""
        return list(self._slots.items())

    def of_instance(self, instance_id: int) -> list[tuple[int, Slot]]:
        """(tid, slot) of an instance's processes."""
        return [(tid, s) for tid, s in self._slots.items() if s.instance_id == instance_id]
