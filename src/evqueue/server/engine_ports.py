"""Adapters that give the engine its ports: processes, instance storage, definitions.

Rules:
- The engine speaks in its own records (``TaskCommand``, ``InstanceWrite``…, engine/ports.py);
  the process layer and the storage verbs speak in theirs. This module translates, and takes
  the few decisions that belong to the adapters: launch rows asked for together share a
  transaction (``_InsertBatch``), the row of a launch alone is inserted at once; definitions
  are kept until :meth:`DbWorkflowSource.forget`; an exit reaches the engine after the spawn
  it ends (:class:`ProcessLauncher`); after a restart, exits that will never come and task
  files no task needs are settled (:func:`collect_exits_after_restart`,
  :func:`remove_stale_task_files`).
- Times cross as naive local datetimes, the same on both sides: nothing here formats or parses
  them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from evqueue.engine.actions import TaskCommand
from evqueue.engine.engine import Engine
from evqueue.engine.events import EventBus, EventType
from evqueue.engine.ports import (
    InstanceWrite,
    LaunchError,
    NewInstanceRow,
    StoredInstance,
    WorkflowDefinition,
)
from evqueue.engine.queues import QueueDefinition
from evqueue.errors import UnknownObject, UnknownObjectName
from evqueue.process.gatherer import release_paths
from evqueue.process.manager import LOST_EXIT, ProcessManager, TaskExit, monitor_alive
from evqueue.process.spec import ProcessSettings, TaskSpec, task_file, tids_with_output
from evqueue.process.start_record import StartJournal
from evqueue.process.status_file import STATUS_KIND, read_status, remove_task_files
from evqueue.storage import datastore as datastore_verbs
from evqueue.storage import instances as instance_verbs
from evqueue.storage import queues as queue_verbs
from evqueue.storage import retry_schedules as retry_verbs
from evqueue.storage import workflows as workflow_verbs
from evqueue.storage.database import Database

__all__ = [
    "DbInstanceStore",
    "DbWorkflowSource",
    "ProcessLauncher",
    "collect_exits_after_restart",
    "deliver_exit",
    "load_queue_definitions",
    "remove_stale_task_files",
]

log = logging.getLogger("evqueue.server")

class _InsertBatch:
    """Launch rows inserted together: the rows asked for while a transaction runs (or in
    the same loop turn) go into the next one, so that pipelined launches share commits; at
    most ``batch_rows()`` rows a transaction when it gives a number (:mod:`.turns`)."""

    def __init__(self, db: Database, batch_rows: Callable[[], int | None] | None = None) -> None:
        self.db = db
        self._batch_rows = batch_rows  # rows per transaction (None: all that wait)
        self._pending: list[tuple[instance_verbs.InstanceSpec, asyncio.Future[int]]] = []
        self._task: asyncio.Task[None] | None = None

    def insert(self, spec: instance_verbs.InstanceSpec) -> asyncio.Future[int]:
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((spec, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        return future

    async def _run(self) -> None:
        while self._pending:
            limit = self._batch_rows() if self._batch_rows is not None else None
            if limit is None:
                batch, self._pending = self._pending, []
            else:
                batch, self._pending = self._pending[:limit], self._pending[limit:]
            try:
                ids = await instance_verbs.create_instances(self.db, [s for s, _ in batch])
            except Exception as exc:  # every launch of the batch gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), instance_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(instance_id)
            if limit is not None and self._pending:
                await asyncio.sleep(0)  # what waits in the loop goes before the next rows


class ProcessLauncher:
    """The engine's ``TaskLauncher`` over the process layer's ``ProcessManager``.

    ``spawn`` waits for the forker to report the monitor's pid; an exit that arrives before
    that pid (the forker died, the fork failed) resolves the wait with pid 0 and is then
    delivered to the engine like any exit. A start the engine asks to record goes to the
    node's start journal before the forker is asked; the journal the previous run left is
    read once, before (``recorded_tids``).
    """

    def __init__(self, settings: ProcessSettings) -> None:
        self.settings = settings
        self.manager: ProcessManager | None = None
        self._starting: dict[int, asyncio.Future[int]] = {}
        self._bound = asyncio.Event()
        self.journal = StartJournal(settings.logs_directory, settings.node)
        self._records: dict[tuple[int, str], list[int]] | None = None

    def bind(self, manager: ProcessManager) -> None:
        """Use ``manager`` (started) from now on; spawns asked for earlier were waiting."""
        self.manager = manager
        self._bound.set()

    async def spawn(self, tid: int, command: TaskCommand, record: bool = False) -> int:
        # Resume may queue tasks before the process manager starts (it must start after the
        # engine knows its running tids, so the exits waiting in the kernel find their task).
        await self._bound.wait()
        assert self.manager is not None
        try:
            spec = TaskSpec.build(
                self.settings, tid=tid, path=command.path, args=tuple(command.args),
                env=dict(command.env), command_line=command.command_line, wd=command.wd,
                stdin=command.stdin, script=command.script, merge_stderr=command.merge_stderr,
                host=command.host, user=command.user, use_agent=command.use_agent)
        except ValueError as exc:
            raise LaunchError(str(exc)) from None
        if record:
            self._previous_records()  # read before this run records anything
            try:
                self.journal.record(tid, command.instance_id, command.evqid)
            except OSError as exc:
                raise LaunchError(f"Unable to record the task's start: {exc}") from None
        started = asyncio.get_running_loop().create_future()
        self._starting[tid] = started
        try:
            self.manager.spawn(spec)
        except Exception as exc:
            self._starting.pop(tid, None)
            self.journal.forget(tid)
            raise LaunchError(str(exc)) from None
        return await started

    def kill(self, tid: int, pid: int) -> None:
        if self.manager is not None:
            self.manager.kill(tid, pid or None)

    def release(self, tid: int) -> None:
        remove_task_files(release_paths(self.settings, tid))
        self.journal.forget(tid)

    def started_monitor(self, tid: int) -> int | None:
        status = read_status(task_file(self.settings.logs_directory, self.settings.node, tid,
                                       STATUS_KIND))
        return None if status is None else status.pid

    def recorded_tids(self, instance_id: int, evqid: str) -> list[int]:
        records = self._previous_records()
        return records.pop((instance_id, evqid), []) if records else []

    def _previous_records(self) -> dict[tuple[int, str], list[int]]:
        if self._records is None:  # read once, before this run records anything
            self._records = self.journal.read()
        return self._records

    def keep_records(self, tids: set[int]) -> None:
        """After a restart: keep the start records of these tids only (those the engine
        knows once the exits that waited are collected)."""
        self._previous_records()
        self.journal.keep_only(tids)

    def started(self, tid: int, pid: int) -> None:
        """ProcessManager ``on_started``."""
        waiter = self._starting.pop(tid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(pid)

    def exited(self, tid: int) -> None:
        """Called before an exit is delivered: release a spawn still waiting for its pid."""
        self.started(tid, 0)


class DbWorkflowSource:
    """The engine's ``WorkflowSource``: definitions read from the store at their first
    launch and kept until :meth:`forget` (what ``control reload`` and every definition change
    call), as evQueue keeps its workflows and retry schedules in memory."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._workflows: dict[str | int, WorkflowDefinition] = {}
        self._schedules: dict[str, str] = {}

    def forget(self) -> None:
        """Drop the definitions read so far: the next launches read the store again."""
        self._workflows.clear()
        self._schedules.clear()

    async def get_workflow(self, key: str | int) -> WorkflowDefinition:
        cached = self._workflows.get(key)
        if cached is not None:
            return cached
        if isinstance(key, int):
            row = await workflow_verbs.get_workflow(self.db, key)
            if row is None:
                raise UnknownObject.by_id("Workflow", key)
        else:
            row = await workflow_verbs.get_workflow_by_name(self.db, key)
            if row is None:
                raise UnknownObjectName.by_name("Workflow", key)
        definition = WorkflowDefinition(id=row.id, name=row.name, xml=row.xml)
        self._workflows[key] = definition
        return definition

    async def get_retry_schedule(self, name: str) -> str | None:
        cached = self._schedules.get(name)
        if cached is not None:
            return cached
        row = await retry_verbs.get_retry_schedule_by_name(self.db, name)
        if row is None:
            return None
        self._schedules[name] = row.xml
        return row.xml


def _stored(row: instance_verbs.InstanceRow) -> StoredInstance:
    return StoredInstance(instance_id=row.id, workflow_id=row.workflow_id,
                          schedule_id=row.schedule_id, node_name=row.node_name,
                          status=row.status, savepoint=row.savepoint or "", host=row.host,
                          comment=row.comment)


class DbInstanceStore:
    """The engine's ``InstanceStore`` over the storage verbs.

    Args:
        db: the store.
        events: where TAG_CREATED is published for each tag an ended instance's automatic
            tags created, as evQueue does (the engine's bus).
    """

    def __init__(self, db: Database, events: EventBus | None = None,
                 batch_rows: Callable[[], int | None] | None = None) -> None:
        self.db = db
        self.events = events
        self._inserts = _InsertBatch(db, batch_rows)

    async def max_instance_id(self) -> int:
        return await instance_verbs.max_instance_id(self.db)

    def create_instance(self, row: NewInstanceRow, *, alone: bool = False) -> Awaitable[int]:
        spec = instance_verbs.InstanceSpec(
            workflow_id=row.workflow_id, node_name=row.node_name, schedule_id=row.schedule_id,
            host=row.host or None, comment=row.comment or None,
            start=row.start_time, parameters=row.parameters or (),
            savepoint_for=row.savepoint)
        if alone:
            # Its own transaction, in the caller's task: a client that waits for this one
            # reply does not wait for the batch task's turn in a loop busy with other
            # connections' bursts (on SQLite the insert runs inline, without a loop turn).
            return instance_verbs.create_instance(self.db, spec)
        return self._inserts.insert(spec)

    async def write_instances(self, writes: Sequence[InstanceWrite]) -> None:
        inserts = [w for w in writes if w.insert]
        updates = [w for w in writes if not w.insert]
        if inserts:
            await instance_verbs.create_instances(self.db, [
                instance_verbs.InstanceSpec(
                    instance_id=w.instance_id, workflow_id=w.workflow_id,
                    node_name=w.node_name, schedule_id=w.schedule_id, host=w.host,
                    comment=w.comment, start=w.start_time, savepoint=w.savepoint,
                    status=w.status, end=w.end_time, errors=w.errors)
                for w in inserts])
        if updates:
            tags_created = await instance_verbs.save_instances(self.db, [
                instance_verbs.SavepointWrite(
                    instance_id=w.instance_id, savepoint=w.savepoint,
                    end=w.end_time if w.status == "TERMINATED" else None,
                    errors=w.errors, filters=w.custom_filters or (), tags=w.tags or ())
                for w in updates])
            if self.events is not None:
                for _ in range(tags_created):
                    self.events.emit(EventType.TAG_CREATED)

    async def load_executing(self, node_name: str) -> list[StoredInstance]:
        return [_stored(row) for row in
                await instance_verbs.executing_instances(self.db, node_name)]

    async def mark_terminated(self, instance_id: int) -> None:
        await instance_verbs.mark_instance_terminated(self.db, instance_id)

    async def delete_executing(self) -> None:
        await instance_verbs.delete_executing_instances(self.db)

    async def load_instance(self, instance_id: int) -> StoredInstance | None:
        row = await instance_verbs.get_instance(self.db, instance_id, with_savepoint=True)
        return None if row is None else _stored(row)

    async def clone_instance(self, source: StoredInstance, *, node_name: str,
                             copy_parameters: bool) -> int:
        parameters = (await instance_verbs.instance_parameters(self.db, source.instance_id)
                      if copy_parameters else ())
        return await instance_verbs.create_instance(self.db, instance_verbs.InstanceSpec(
            workflow_id=source.workflow_id, node_name=node_name, host=source.host,
            comment=source.comment, savepoint=source.savepoint, parameters=parameters))

    async def set_node(self, instance_id: int, node_name: str) -> None:
        await instance_verbs.set_instance_node(self.db, instance_id, node_name)

    async def store_datastore(self, instance_id: int, value: str) -> int:
        return await datastore_verbs.store_datastore(self.db, instance_id, value)


async def load_queue_definitions(db: Database) -> list[QueueDefinition]:
    """The queues of ``t_queue`` as the engine's queue pool wants them."""
    return [QueueDefinition(name=q.name, concurrency=q.concurrency, scheduler=q.scheduler,
                            dynamic=q.dynamic, id=q.id)
            for q in await queue_verbs.list_queues(db)]


def deliver_exit(launcher: ProcessLauncher, engine: Engine, item: TaskExit) -> None:
    """ProcessManager ``on_exit``: order an exit after the spawn it ends (see
    ProcessLauncher), then hand it to the engine."""
    launcher.exited(item.tid)
    engine.report_exit(item.tid, item.retcode, item.stdout, item.stderr, item.log)


async def collect_exits_after_restart(engine: Engine, manager: ProcessManager) -> None:
    """After a restart, end the re-attached tasks whose exit will never come.

    A task whose monitor is gone, or whose status file holds its retcode (its monitor may
    have gone on to run another task), has sent its exit: once the queue is drained
    (``manager.sync``) that exit has reached the engine, unless the previous engine had
    already taken it out of the queue before it could save it (killed then) or the monitor
    was killed itself. Such a task ends with the retcode of its status file, or with -1 and
    what is left of its output files. What these exits start may be tasks the previous engine
    had started too, re-attached then (``Engine._adopt``): they are looked at in turn.
    """
    looked_at: set[int] = set()
    while gone := [(tid, pid) for tid, pid in engine.attached_tasks() if tid not in looked_at
                   and (not monitor_alive(pid) or manager.exit_recorded(tid))]:
        await _collect_lost_exits(engine, manager, gone)
        await engine.idle()  # the exits' consequences, re-attached tasks among them
        looked_at.update(tid for tid, _ in gone)


async def _collect_lost_exits(engine: Engine, manager: ProcessManager,
                             gone: list[tuple[int, int]]) -> None:
    """Deliver the exits of these re-attached tasks (tid, monitor pid) that the drained
    queue did not bring."""
    await manager.sync()
    for tid, pid in gone:
        if engine.is_attached(tid):
            item = await manager.lost_exit(tid, pid)
            if item.stderr is not None and item.stderr.endswith(LOST_EXIT + "\n"):
                log.warning("task %d: its monitor ended while the engine was down and its "
                            "exit was not received; recorded with retcode -1", tid)
            else:
                log.info("task %d: exit taken from its status file (retcode %d)", tid,
                         item.retcode)
            engine.report_exit(item.tid, item.retcode, item.stdout, item.stderr, item.log)


def remove_stale_task_files(engine: Engine, settings: ProcessSettings) -> int:
    """Remove the task files of this node that no task refers to any more (a result stored
    just before a crash, before its files could go); return how many tids were cleared.

    Call it once the exits that waited for the restart have been handed to the engine: from
    then on every tid still needed is one the engine knows (running, or result not stored).
    """
    stale = tids_with_output(settings.logs_directory, settings.node) - engine.known_tids()
    for tid in stale:
        remove_task_files(release_paths(settings, tid))
    return len(stale)
