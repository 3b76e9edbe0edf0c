"""Pending task retries, ordered by due time (semantics.md §2.2, ``Retrier``).

Pure bookkeeping: the asynchronous layer arms one timer for :meth:`Retrier.next_due` and, when
it fires, runs what :meth:`Retrier.due` returns. :meth:`Retrier.flush` (SIGUSR1,
``<control action="retry"/>``) returns every pending retry at once; a cancel drops an
instance's retries with :meth:`Retrier.cancel_instance`. A task has at most one pending retry:
adding it again replaces the earlier one.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
from dataclasses import dataclass

__all__ = ["PendingRetry", "Retrier"]


@dataclass(frozen=True, order=True)
class PendingRetry:
    """One retry: when, and which task."""

    at: datetime.datetime
    instance_id: int
    evqid: str


class Retrier:
    """Pending retries, earliest first."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime.datetime, int, PendingRetry]] = []
        self._live: dict[tuple[int, str], PendingRetry] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._live)

    def add(self, at: datetime.datetime, instance_id: int, evqid: str) -> None:
        """Plan a retry of task *evqid* of *instance_id* at *at*."""
        retry = PendingRetry(at, instance_id, evqid)
        self._live[instance_id, evqid] = retry
        heapq.heappush(self._heap, (at, next(self._seq), retry))

    def next_due(self) -> datetime.datetime | None:
        """When the earliest pending retry is due, or None."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def due(self, now: datetime.datetime) -> list[PendingRetry]:
        """Remove and return the retries due at *now*, earliest first."""
        ready: list[PendingRetry] = []
        self._drop_stale()
        while self._heap and self._heap[0][0] <= now:
            retry = heapq.heappop(self._heap)[2]
            if self._live.get((retry.instance_id, retry.evqid)) is retry:
                del self._live[retry.instance_id, retry.evqid]
                ready.append(retry)
            self._drop_stale()
        return ready

    def flush(self) -> list[PendingRetry]:
        """Remove and return every pending retry, earliest first."""
        ready = sorted(self._live.values(), key=lambda r: (r.at, r.instance_id, r.evqid))
        self._live.clear()
        self._heap.clear()
        return ready

    def cancel_instance(self, instance_id: int) -> list[PendingRetry]:
        """Remove and return the pending retries of one instance."""
        dropped = [r for key, r in self._live.items() if key[0] == instance_id]
        for retry in dropped:
            del self._live[retry.instance_id, retry.evqid]
        return dropped

    def _drop_stale(self) -> None:
        # Entries replaced or cancelled stay in the heap until they reach its top.
        while self._heap:
            retry = self._heap[0][2]
            if self._live.get((retry.instance_id, retry.evqid)) is retry:
                return
            heapq.heappop(self._heap)
