"""One writer for instance savepoints, grouping writes into batched transactions.

Rules:

* :meth:`SavepointWriter.submit` never blocks: it queues a write and returns a future that is
  done once the write is stored (True) or given up (False). A newer write of the same
  instance replaces a queued one; its waiters are kept.
* :meth:`SavepointWriter.submit_later` queues a write made only when its batch is taken: an
  instance that changes several times before its batch (its tasks starting one after the
  other, each stored before it starts) is serialized once, in its latest state.
* ``on_stored(write)`` is called for each stored write that holds task results
  (``InstanceWrite.results``); a write that replaces another takes over its results.
* One background task writes everything queued so far in one ``write_instances`` call; writes
  submitted meanwhile go into the next batch. Under load, batches grow instead of queuing
  transactions. When ``batch_rows()`` gives a number, a batch holds at most that many
  instances and the loop runs between two batches (the node limits them while a client
  waits for the reply of a launch of its own, :mod:`evqueue.server.turns`).
* A failed batch is tried again after ``retry_wait`` seconds, up to ``retry_times`` more times
  (0 = forever) when retrying is enabled. Then its waiters are let go (the engine goes on), but
  its writes are not dropped: they are kept, each until a newer write of its instance
  replaces it, and tried again every ``retry_wait`` seconds (at least one) with the next
  batches, so that an instance that ended while the store was away is stored once it is
  back (evQueue drops them, leaving such instances EXECUTING in the store for good). Only
  when retrying is disabled, or at :meth:`SavepointWriter.close`, are writes dropped.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
from collections.abc import Callable

from evqueue.engine.ports import InstanceStore, InstanceWrite

__all__ = ["SavepointWriter"]

logger = logging.getLogger(__name__)

#: A write, or what makes it when its batch is taken (an :class:`InstanceWrite` is one too).
_Maker = InstanceWrite | Callable[[], InstanceWrite]


def _made(make: _Maker, results: tuple[int, ...]) -> InstanceWrite:
    write = make if isinstance(make, InstanceWrite) else make()
    if results and write.results != results:
        write = dataclasses.replace(write, results=results)
    return write


class SavepointWriter:
    """Batches :class:`~evqueue.engine.ports.InstanceWrite` into the store.

    Args:
        store: where to write.
        retry: retry failed batches (``workflowinstance.savepoint.retry.enable``).
        retry_times: extra tries, 0 = forever.
        retry_wait: seconds between tries.
    """

    def __init__(
        self,
        store: InstanceStore,
        *,
        retry: bool = True,
        retry_times: int = 2,
        retry_wait: float = 2.0,
        on_stored: Callable[[InstanceWrite], None] | None = None,
        batch_rows: Callable[[], int | None] | None = None,
    ) -> None:
        self._store = store
        self._batch_rows = batch_rows
        self._on_stored = on_stored
        self._retry, self._retry_times, self._retry_wait = retry, retry_times, retry_wait
        # instance id → (the write, or what makes it; results it holds; waiters)
        self._pending: dict[int, tuple[_Maker, tuple[int, ...],
                                       list[asyncio.Future[bool]]]] = {}
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._deferred: dict[int, InstanceWrite] = {}  # given up once, tried again later
        self._deferred_timer: asyncio.TimerHandle | None = None
        self.batches = 0  # number of transactions, for tests and metrics

    @property
    def deferred(self) -> int:
        """How many writes wait for the store to come back."""
        return len(self._deferred)

    def submit(self, write: InstanceWrite) -> asyncio.Future[bool]:
        """Queue *write*; the returned future is True once it is stored, False if given up."""
        return self.submit_later(write.instance_id, write, write.results)

    def submit_later(self, instance_id: int, make: _Maker,
                     results: tuple[int, ...] = ()) -> asyncio.Future[bool]:
        """Queue the write ``make()`` returns when its batch is taken (it holds ``results``
        too); the returned future is as :meth:`submit`'s."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        _, older, waiters = self._pending.pop(instance_id, (None, (), []))
        deferred = self._deferred.pop(instance_id, None)  # superseded
        held = (deferred.results if deferred is not None else ()) + older + results
        waiters.append(future)
        self._pending[instance_id] = (make, held, waiters)
        self._idle.clear()
        self._wake()
        return future

    def _wake(self) -> None:
        self._wakeup.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _retry_deferred(self) -> None:
        self._deferred_timer = None
        if self._deferred:
            self._wake()

    async def flush(self) -> None:
        """Wait until everything submitted so far is stored (or given up)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Flush, then stop the background task."""
        await self.flush()
        if self._deferred_timer is not None:
            self._deferred_timer.cancel()
            self._deferred_timer = None
        if self._deferred:
            logger.error("store unavailable at shutdown: savepoints of instances %s dropped",
                         sorted(self._deferred))
            self._deferred.clear()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            limit = self._batch_rows() if self._batch_rows is not None else None
            if limit is not None and len(self._pending) > limit:
                # The oldest first; the rest stay for the next batch (taken off the front:
                # a backlog of thousands is not copied at each batch of one).
                pending = {key: self._pending.pop(key)
                           for key in list(itertools.islice(self._pending, limit))}
                self._wakeup.set()
            else:
                pending, self._pending = self._pending, {}
            batch = [(_made(make, results), waiters)
                     for make, results, waiters in pending.values()]
            batch += [(write, []) for instance_id, write in self._deferred.items()
                      if instance_id not in pending]
            self._deferred.clear()
            if batch:
                await self._write(batch)
            if limit is not None and self._pending:
                await asyncio.sleep(0)  # what waits in the loop goes before the next batch
            if not self._pending:
                self._idle.set()

    async def _write(self, batch: list[tuple[InstanceWrite, list[asyncio.Future[bool]]]]) -> None:
        writes = [write for write, _ in batch]
        tries = 0
        stored = False
        while True:
            try:
                await self._store.write_instances(writes)
                self.batches += 1
                stored = True
                if self._on_stored is not None:
                    for write in writes:
                        if write.results:
                            self._on_stored(write)
                break
            except Exception:
                logger.exception("savepoint write of %d instance(s) failed", len(writes))
                tries += 1
                if not self._retry or (self._retry_times and tries > self._retry_times):
                    self._defer(writes)
                    break
                await asyncio.sleep(self._retry_wait)
        for _, waiters in batch:
            for future in waiters:
                if not future.done():
                    future.set_result(stored)

    def _defer(self, writes: list[InstanceWrite]) -> None:
        """Keep writes given up for a later try (none newer is queued: it would replace it)."""
        if not self._retry:
            logger.error("savepoints of instances %s dropped", [w.instance_id for w in writes])
            return
        for write in writes:
            if write.instance_id not in self._pending:
                self._deferred[write.instance_id] = write
        logger.error("savepoints of %d instance(s) not stored, tried again every %g s",
                     len(self._deferred), max(1.0, self._retry_wait))
        if self._deferred and self._deferred_timer is None:
            self._deferred_timer = asyncio.get_running_loop().call_later(
                max(1.0, self._retry_wait), self._retry_deferred)
