"""When and what the engine writes about instances (savepoint levels, semantics.md §2.5).

| level | at launch                   | while running          | at termination                 |
|-------|-----------------------------|------------------------|--------------------------------|
| 0     | id from a sequence          | nothing                | nothing (no history)           |
| 1     | id from a sequence          | nothing                | full row inserted              |
| 2     | EXECUTING row, id from it   | changes, coalesced     | row updated, filters and tags  |
| 3     | EXECUTING row, id from it   | after each change      | row updated, filters and tags  |

At levels 2 and 3 the launch's row holds, from its first transaction, the savepoint of the
instance not started yet: an engine killed before anything else was stored starts it again.

Level 2 goes beyond evQueue (which writes only at launch and at shutdown, so a crash loses the
running instances): the changes of running instances (a task queued, started — its tid —,
ended, a retry armed…) are gathered for ``EngineSettings.savepoint_window`` seconds, then every
instance changed meanwhile is written, in its latest state, in one batch. An engine killed with
SIGKILL is then resumed from savepoints at most that old.

A task's result is "held" until a write that contains it is stored: only then may the
process layer drop what it kept to rebuild it (``release``). A task's start writes nothing
here: the process layer records it before the process starts (its start record), so that an
engine killed right after does not start the task again.

At shutdown every running instance is written, whatever the level (an insert at levels 0/1:
those rows are deleted again once resumed). The sequence of levels 0/1 continues after
``MAX(workflow_instance_id)``. Task outputs of ``datastore.dom.maxsize`` bytes or more are
stored in the datastore and only referenced from the instance XML.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable

from evqueue.engine.actions import Spilled, TaskResult
from evqueue.engine.instance import Instance
from evqueue.engine.ports import InstanceStore, InstanceWrite, NewInstanceRow, StoredInstance
from evqueue.engine.savepoints import SavepointWriter
from evqueue.engine.settings import EngineSettings
from evqueue.engine.statuses import Status

__all__ = ["Persistence"]

logger = logging.getLogger(__name__)


class Persistence:
    """Instance ids and savepoints, as the savepoint level decides.

    Args:
        store: the instance store.
        settings: the engine settings (node name, level, parameters, retry of writes).
        release: called with the tid of each task result held (:meth:`hold`) once a write
            that contains it is stored.
    """

    def __init__(self, store: InstanceStore, settings: EngineSettings,
                 release: Callable[[int], None] | None = None,
                 batch_rows: Callable[[], int | None] | None = None) -> None:
        self.store = store
        self._release = release
        self._held: dict[int, list[int]] = {}  # instance id → tids of unstored results
        self.level = settings.savepoint_level
        self._settings = settings
        self.writer = SavepointWriter(store, retry=settings.savepoint_retry,
                                      retry_times=settings.savepoint_retry_times,
                                      retry_wait=settings.savepoint_retry_wait,
                                      on_stored=lambda write: self._release_all(write.results),
                                      batch_rows=batch_rows)
        self._next_id: int | None = None
        self._lock = asyncio.Lock()
        self._window = settings.savepoint_window
        self._dirty: dict[int, Instance] = {}  # level 2: changed since the last batch
        self._flush_timer: asyncio.TimerHandle | None = None

    async def new_id(self, instance: Instance, now: datetime.datetime) -> int:
        """The id of a launched instance (inserting its EXECUTING row at level ≥ 2)."""
        return await self.request_id(instance, now)

    def request_id(self, instance: Instance, now: datetime.datetime, *,
                   alone: bool = True) -> Awaitable[int]:
        """Ask for the id of a launched instance (its EXECUTING row at level ≥ 2) and await
        it: ids are given in the order they were asked for, so launches that overlap while
        they wait keep the order they came in. ``alone`` (not one of a burst): its row does
        not wait for the rows of other launches."""
        if self.level < 2:
            if self._next_id is None or self._lock.locked():
                return self.sequence()
            self._next_id += 1
            done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            done.set_result(self._next_id - 1)
            return done
        root = instance.root
        parameters = None
        if self._settings.save_parameters:
            parameters = tuple((p.get("name", ""), "".join(p.itertext()))
                               for p in root.iterfind("parameters/parameter"))

        def unstarted(instance_id: int) -> str:
            instance.id = instance_id
            return instance.to_xml()

        return self.store.create_instance(NewInstanceRow(
            workflow_id=instance.workflow_id, node_name=self._settings.node_name,
            schedule_id=instance.schedule_id, host=root.get("host", ""),
            comment=root.get("comment", ""), start_time=now,
            parameters=parameters, savepoint=unstarted), alone=alone)

    async def debug_copy(self, stored: StoredInstance) -> int:
        """The id of a debug-resumed copy of *stored* (a new row at level ≥ 2)."""
        if self.level < 2:
            return await self.sequence()
        return await self.store.clone_instance(stored, node_name=self._settings.node_name,
                                               copy_parameters=self._settings.save_parameters)

    async def prime(self, in_use: Iterable[int]) -> None:
        """Start the sequence of levels 0/1 after the stored ids and *in_use* (resumed
        instances, whose rows are deleted once resumed)."""
        async with self._lock:
            highest = max([await self.store.max_instance_id(), *in_use])
            self._next_id = max(self._next_id or 0, highest + 1)

    async def sequence(self) -> int:
        """The next id of the in-memory sequence (levels 0/1)."""
        if self._next_id is None:
            await self.prime(())
        async with self._lock:
            assert self._next_id is not None
            self._next_id += 1
            return self._next_id - 1

    def changed(self, instance: Instance) -> None:
        """An instance changed while running: written now at level 3, within
        ``savepoint_window`` seconds at level 2 (with the other instances changed meanwhile)."""
        if self.level == 3:
            self._submit(instance, terminal=False)
        elif self.level == 2:
            self._dirty[instance.id] = instance
            if self._flush_timer is None:
                self._flush_timer = asyncio.get_running_loop().call_later(
                    self._window, self.write_changed)

    def write_changed(self) -> None:
        """Submit the coalesced level-2 writes now (the window's timer calls it)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        dirty, self._dirty = self._dirty, {}
        for instance in dirty.values():
            if instance.status == Status.EXECUTING:
                self._submit(instance, terminal=False)

    def hold(self, instance: Instance, tid: int) -> None:
        """Task *tid*'s result went into *instance*: ``release(tid)`` once it is stored."""
        self._held.setdefault(instance.id, []).append(tid)

    def _submit(self, instance: Instance, *, terminal: bool) -> asyncio.Future[bool]:
        # The savepoint is serialized when its batch is taken, once however often the
        # instance changed meanwhile (a big instance whose tasks start one by one).
        tids = tuple(self._held.pop(instance.id, ()))  # released once stored
        return self.writer.submit_later(
            instance.id, lambda: self.write(instance, terminal=terminal), tids)

    def _release_all(self, tids: Iterable[int]) -> None:
        if self._release is not None:
            for tid in tids:
                self._release(tid)

    async def flush(self) -> None:
        """Write what is waiting (coalesced changes included) and wait until it is stored."""
        self.write_changed()
        await self.writer.flush()

    def ended(self, instance: Instance) -> asyncio.Future[bool]:
        """An instance terminated: its final write (none at level 0); done once stored."""
        self._dirty.pop(instance.id, None)  # the final write supersedes a pending one
        if self.level >= 1:
            return self._submit(instance, terminal=True)
        self._release_all(self._held.pop(instance.id, []))  # nothing is ever stored
        return _done()

    async def shutdown(self, instances: Iterable[Instance]) -> None:
        """Write every running instance, then stop the writer."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        self._dirty.clear()
        for instance in instances:
            if instance.status == Status.EXECUTING:  # an ended one has its final write
                self._submit(instance, terminal=False)
        await self.writer.close()

    async def task_result(
        self, instance: Instance, evqid: str, retcode: int, stdout: str,
        stderr: str | None, log: str | None,
    ) -> TaskResult:
        """A task's result, its texts of ``datastore.dom.maxsize`` bytes or more moved to
        the datastore (a successful XML output stays: it is parsed into the tree)."""
        xml_output = retcode == 0 and instance.output_is_xml(evqid)
        return TaskResult(
            retcode,
            stdout if xml_output else await self._spill(instance.id, stdout),
            None if stderr is None else await self._spill(instance.id, stderr),
            None if log is None else await self._spill(instance.id, log),
        )

    async def _spill(self, instance_id: int, text: str) -> str | Spilled:
        if len(text.encode(errors="replace")) < self._settings.dom_maxsize:
            return text
        try:
            return Spilled(datastore_id=await self.store.store_datastore(instance_id, text))
        except Exception as exc:  # the output is then referenced by its error
            logger.warning("instance %d: datastore insert failed: %s", instance_id, exc)
            return Spilled(error=str(exc))

    def write(self, instance: Instance, *, terminal: bool) -> InstanceWrite:
        """The savepoint record of *instance* (with filters and tags when it terminated)."""
        attributes = instance.attributes()
        full = terminal and self.level >= 2
        return InstanceWrite(
            instance_id=instance.id, workflow_id=instance.workflow_id,
            schedule_id=instance.schedule_id, node_name=self._settings.node_name,
            host=attributes.get("host"), comment=attributes.get("comment"),
            status=attributes.get("status", ""), start_time=instance.start_time,
            end_time=instance.end_time, errors=instance.errors, savepoint=instance.to_xml(),
            insert=self.level < 2,
            custom_filters=tuple(instance.custom_attributes()) if full else None,
            tags=tuple(instance.automatic_tags()) if full else None,
        )


def _done() -> asyncio.Future[bool]:
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    done.set_result(True)
    return done
