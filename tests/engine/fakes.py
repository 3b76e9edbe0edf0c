"""In-memory stand-ins for the engine's ports, for the engine tests.

* :class:`FakeClock` — a settable wall clock.
* :class:`FakeLauncher` — "runs" tasks: each spawn gets a pid, and the task either ends at
  once with the result a script function gives, or stays running until the test ends it.
* :class:`MemoryStore` — ``InstanceStore`` over dicts.
* :class:`MemorySource` — workflows and retry schedules from dicts.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from evqueue.engine import (
    Engine,
    EngineSettings,
    InstanceWrite,
    LaunchError,
    NewInstanceRow,
    QueueDefinition,
    StoredInstance,
    TaskCommand,
    WorkflowDefinition,
)
from evqueue.errors import UnknownObjectName

__all__ = [
    "HOLD",
    "FakeClock",
    "FakeLauncher",
    "MemorySource",
    "MemoryStore",
    "Outcome",
    "make_engine",
]

START = datetime.datetime(2024, 1, 10, 10, 0, 0)


class FakeClock:
    """A wall clock that moves only when told."""

    def __init__(self, start: datetime.datetime = START) -> None:
        self.current = start

    def now(self) -> datetime.datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += datetime.timedelta(seconds=seconds)


@dataclass(frozen=True)
class Outcome:
    """How a fake task ends."""

    retcode: int = 0
    stdout: str = ""
    stderr: str | None = ""
    log: str | None = ""


#: Returned by a script: the task keeps running until ``FakeLauncher.finish``.
HOLD = Outcome(retcode=-999)


@dataclass
class Spawned:
    tid: int
    pid: int
    command: TaskCommand


@dataclass
class FakeLauncher:
    """Starts nothing; ends tasks as *script* says (default: success, empty output)."""

    script: Callable[[TaskCommand], Outcome] = lambda command: Outcome()
    fail_with: str | None = None  # every spawn fails with this message
    engine: Engine | None = None
    spawned: list[Spawned] = field(default_factory=list)
    running: dict[int, Spawned] = field(default_factory=dict)
    killed: list[tuple[int, int]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)  # tids whose result was stored
    monitors: dict[int, int] = field(default_factory=dict)  # started_monitor's answers
    # start records: (instance id, evqid) → tids, as spawn's record leaves them
    records: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    max_running: int = 0
    _pids: itertools.count = field(default_factory=lambda: itertools.count(1000))
    _exits: set[asyncio.Task[None]] = field(default_factory=set)

    async def spawn(self, tid: int, command: TaskCommand, record: bool = False) -> int:
        if self.fail_with is not None:
            raise LaunchError(self.fail_with)
        if record:
            self.records.setdefault((command.instance_id, command.evqid), []).append(tid)
        spawned = Spawned(tid, next(self._pids), command)
        self.spawned.append(spawned)
        self.running[tid] = spawned
        self.max_running = max(self.max_running, len(self.running))
        outcome = self.script(command)
        if outcome is not HOLD:
            self.finish(tid, outcome)
        return spawned.pid

    def kill(self, tid: int, pid: int) -> None:
        self.killed.append((tid, pid))
        if tid in self.running:
            self.finish(tid, Outcome(-1, "", "killed"))

    def release(self, tid: int) -> None:
        self.released.append(tid)

    def started_monitor(self, tid: int) -> int | None:
        return self.monitors.get(tid)

    def recorded_tids(self, instance_id: int, evqid: str) -> list[int]:
        return self.records.pop((instance_id, evqid), [])

    def finish(self, tid: int, outcome: Outcome = Outcome()) -> asyncio.Task[None]:
        """End a running task; the engine hears of it on the next loop iteration."""
        self.running.pop(tid, None)
        assert self.engine is not None
        task = asyncio.get_running_loop().create_task(self.engine.task_exited(
            tid, outcome.retcode, outcome.stdout, outcome.stderr, outcome.log))
        self._exits.add(task)
        task.add_done_callback(self._exits.discard)
        return task

    async def settle(self) -> None:
        """Wait until every exit was processed and the engine is idle."""
        assert self.engine is not None
        while True:
            await self.engine.idle()
            if not self._exits:
                return
            await asyncio.wait(set(self._exits))

    def by_name(self, name: str) -> list[Spawned]:
        return [s for s in self.spawned if s.command.name == name]


class MemoryStore:
    """``InstanceStore`` in dicts."""

    def __init__(self) -> None:
        self.rows: dict[int, StoredInstance] = {}
        self.parameters: dict[int, tuple[tuple[str, str], ...]] = {}
        self.filters: dict[int, tuple[tuple[str, str], ...]] = {}
        self.tags: dict[int, tuple[str, ...]] = {}
        self.datastore: dict[int, str] = {}
        self.writes: list[InstanceWrite] = []
        self.batches: list[Sequence[InstanceWrite]] = []
        self.fail_writes = 0
        self._ids = itertools.count(1)

    async def max_instance_id(self) -> int:
        return max(self.rows, default=0)

    async def create_instance(self, row: NewInstanceRow, *, alone: bool = False) -> int:
        instance_id = max(next(self._ids), max(self.rows, default=0) + 1)
        savepoint = row.savepoint(instance_id) if row.savepoint is not None else ""
        self.rows[instance_id] = StoredInstance(instance_id, row.workflow_id, row.schedule_id,
                                                row.node_name, "EXECUTING", savepoint, row.host,
                                                row.comment)
        if row.parameters is not None:
            self.parameters[instance_id] = row.parameters
        return instance_id

    async def write_instances(self, writes: Sequence[InstanceWrite]) -> None:
        if self.fail_writes:
            self.fail_writes -= 1
            raise RuntimeError("database is down")
        self.batches.append(list(writes))
        for w in writes:
            self.writes.append(w)
            self.rows[w.instance_id] = StoredInstance(w.instance_id, w.workflow_id,
                                                      w.schedule_id, w.node_name, w.status,
                                                      w.savepoint, w.host, w.comment)
            if w.custom_filters is not None:
                self.filters[w.instance_id] = w.custom_filters
            if w.tags is not None:
                self.tags[w.instance_id] = w.tags

    async def load_executing(self, node_name: str) -> list[StoredInstance]:
        return [r for r in self.rows.values()
                if r.status == "EXECUTING" and r.node_name == node_name]

    async def mark_terminated(self, instance_id: int) -> None:
        self.rows[instance_id] = replace(self.rows[instance_id], status="TERMINATED")

    async def delete_executing(self) -> None:
        self.rows = {k: r for k, r in self.rows.items() if r.status != "EXECUTING"}

    async def load_instance(self, instance_id: int) -> StoredInstance | None:
        return self.rows.get(instance_id)

    async def clone_instance(
        self, source: StoredInstance, *, node_name: str, copy_parameters: bool
    ) -> int:
        new_id = max(self.rows, default=0) + 1
        self.rows[new_id] = replace(source, instance_id=new_id, node_name=node_name,
                                    status="EXECUTING", schedule_id=None)
        if copy_parameters and source.instance_id in self.parameters:
            self.parameters[new_id] = self.parameters[source.instance_id]
        return new_id

    async def set_node(self, instance_id: int, node_name: str) -> None:
        self.rows[instance_id] = replace(self.rows[instance_id], node_name=node_name)

    async def store_datastore(self, instance_id: int, value: str) -> int:
        datastore_id = len(self.datastore) + 1
        self.datastore[datastore_id] = value
        return datastore_id


class MemorySource:
    """Workflows (name → XML) and retry schedules (name → XML)."""

    def __init__(self, workflows: dict[str, str] | None = None,
                 schedules: dict[str, str] | None = None) -> None:
        self.workflows = {name: WorkflowDefinition(i, name, xml)
                          for i, (name, xml) in enumerate((workflows or {}).items(), 1)}
        self.schedules = dict(schedules or {})

    async def get_workflow(self, key: str | int) -> WorkflowDefinition:
        for definition in self.workflows.values():
            if key in (definition.name, definition.id):
                return definition
        raise UnknownObjectName.by_name("Workflow", key)

    async def get_retry_schedule(self, name: str) -> str | None:
        return self.schedules.get(name)


def make_engine(
    workflows: dict[str, str],
    *,
    queues: Sequence[QueueDefinition] = (QueueDefinition("default", 1),),
    script: Callable[[TaskCommand], Outcome] | None = None,
    schedules: dict[str, str] | None = None,
    store: MemoryStore | None = None,
    clock: FakeClock | None = None,
    batch_rows: Callable[[], int | None] | None = None,
    **settings: object,
) -> tuple[Engine, FakeLauncher, MemoryStore, FakeClock]:
    """An engine wired to fakes."""
    launcher = FakeLauncher(script or (lambda command: Outcome()))
    store = store or MemoryStore()
    clock = clock or FakeClock()
    engine = Engine(
        settings=EngineSettings(environ={}, **settings),  # type: ignore[arg-type]
        launcher=launcher, store=store, source=MemorySource(workflows, schedules),
        queues=queues, clock=clock, batch_rows=batch_rows,
    )
    launcher.engine = engine
    return engine, launcher, store, clock
