"""Cluster faults: no schedule fire is doubled or lost, and no API call waits for a dead node.

Three nodes share one store. A workflow schedule of node ``any`` is due every
:data:`PERIOD` seconds; its task appends the id of its instance to a file shared by the nodes
(the task side of the count) and sleeps a little. A :class:`ScheduleProbe` reads the claims
(``t_schedule_fire``), the instances (``t_workflow_instance``) and that file, and tells, over
the span of the claimed due times: due times, fires, duplicates, missed ones.

- The node that fires the current due time (it won the claim and its task runs) is killed
  with ``kill -9``, twice: the other nodes fire the next due times; the killed node restarts
  and resumes its run. Every due time fires exactly once.
- Clocks 5 s apart (``EVQUEUE_CLOCK_OFFSET``: +5 s, 0, -5 s): the claim key is the due time
  of the schedule, not a clock reading, so the node ahead fires every due time 5 s early and
  the others find it taken; when it is killed the next node takes over, then the one behind
  (5 s late). Every due time fires exactly once.
- A peer killed with ``kill -9`` (its registry row stays, its unix socket file too) and a
  peer that hangs (SIGSTOP): definition changes on a live node are answered at once, the live
  peer reloads, the hung one too once it runs again.

The long version, with many kills of the node that fires, is ``tests/soak/cluster_faults.py``.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import datetime
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from evqueue.client.sync import Client
from evqueue.server.clock_offset import CLOCK_OFFSET_ENV
from evqueue.storage.database import Database
from evqueue.storage.schema import create_schema
from evqueue.storage.tables import t_schedule_fire, t_workflow_instance
from evqueue.storage.workflow_schedules import WorkflowScheduleSpec, create_workflow_schedule
from evqueue.storage.workflows import create_workflow
from tests.e2e.nodes import Node, wait_for

pytestmark = pytest.mark.backends

#: The schedule's period (seconds).
PERIOD = 2
EVERY_PERIOD = ",".join(str(s) for s in range(0, 60, PERIOD)) + ";;;;;"
#: Seconds the scheduled task runs: long enough to kill its node while it runs.
TASK_SECONDS = 0.6
#: An API call that changes a definition must be answered within this many seconds.
PROMPT = 2.0
#: Seconds a peer is kept stopped (SIGSTOP): longer than ``cluster.rcv.timeout``.
HUNG_SECONDS = 6.0

TICK = """#!/bin/sh
echo "$1" >> {runs}
sleep {seconds}
"""

# No whitespace inside <input>: it is mixed content. The task gets its instance's id.
_WORKFLOW = ("<workflow><subjobs><job name='j'><tasks><task name='t' path='{path}' "
             "queue='default'><input><value select='/workflow/@id'/></input></task></tasks>"
             "</job></subjobs></workflow>")


def in_parallel(calls: Iterable[Callable[[], object]]) -> None:
    """Run the calls at once (node start-ups); re-raises the first failure."""
    with concurrent.futures.ThreadPoolExecutor() as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


def admin(node: Node, timeout: float = 30) -> Client:
    """A client logged in as admin on the node's unix socket."""
    return Client(f"unix://{node.socket_path}", "admin", "admin", timeout=timeout).connect()


@contextlib.contextmanager
def clock_offset(seconds: float) -> Iterator[None]:
    """Nodes started inside run their scheduler ``seconds`` off (``EVQUEUE_CLOCK_OFFSET``)."""
    old = os.environ.get(CLOCK_OFFSET_ENV)
    os.environ[CLOCK_OFFSET_ENV] = str(seconds)
    try:
        yield
    finally:
        if old is None:
            del os.environ[CLOCK_OFFSET_ENV]
        else:
            os.environ[CLOCK_OFFSET_ENV] = old


@dataclass(frozen=True)
class Fire:
    """A claimed due time."""

    due: datetime.datetime
    node: str
    instance_id: int | None


@dataclass(frozen=True)
class Tally:
    """What happened to the due times between the first and the last claimed one.

    A fire is a claimed due time with its instance. A node killed between its claim and the
    record of the instance id leaves a claim without id: when that node has an instance of
    the schedule that no claim names, the two go together (``launched_not_recorded``), else
    the due time was claimed and never launched (``missed``).
    """

    due_times: int
    fires: int
    duplicates: int
    missed: int
    claimed_not_launched: int
    launched_not_recorded: int
    task_runs: int
    tasks_doubled: int
    tasks_missing: int
    not_terminated: int
    fires_by_node: dict[str, int]
    problems: list[str]


class ScheduleProbe:
    """One ``any`` schedule of a ticking workflow, and what the store and the task say of it.

    Args:
        db_url: the store shared by the nodes.
        directory: where the task script and its ``runs`` file live.
    """

    def __init__(self, db_url: str, directory: Path) -> None:
        self.db_url = db_url
        directory.mkdir(parents=True, exist_ok=True)
        self.runs = directory / "runs"
        self.script = directory / "tick.sh"
        self.script.write_text(TICK.format(runs=self.runs, seconds=TASK_SECONDS))
        self.script.chmod(0o755)
        self._loop = asyncio.Runner()
        self.db: Database = self._loop.run(self._open())
        self.schedule_id = 0

    async def _open(self) -> Database:
        db = await Database.open(self.db_url)
        await create_schema(db)
        return db

    def close(self) -> None:
        """Close the store connection."""
        self._loop.run(self.db.close())
        self._loop.close()

    def seed(self) -> int:
        """The workflow and its schedule (before the nodes start, so each loads it)."""
        async def work() -> int:
            xml = _WORKFLOW.format(path=self.script)
            workflow_id = await create_workflow(self.db, "tick", xml)
            return await create_workflow_schedule(self.db, WorkflowScheduleSpec(
                workflow_id=workflow_id, schedule=EVERY_PERIOD, node_name="any"))

        self.schedule_id = self._loop.run(work())
        return self.schedule_id

    def fires(self) -> list[Fire]:
        """The claims of the schedule, by due time."""
        c = t_schedule_fire.c
        rows = self._loop.run(self.db.fetch_all(
            select(c.due_time, c.node_name, c.workflow_instance_id)
            .where(c.workflow_schedule_id == self.schedule_id).order_by(c.due_time)))
        return [Fire(row.due_time, row.node_name, row.workflow_instance_id) for row in rows]

    def instances(self) -> dict[int, tuple[str, str, bool]]:
        """Instance id → (node, status, whether the store knows its task started)."""
        wi = t_workflow_instance.c
        rows = self._loop.run(self.db.fetch_all(
            select(wi.workflow_instance_id, wi.node_name, wi.workflow_instance_status,
                   wi.workflow_instance_savepoint)
            .where(wi.workflow_schedule_id == self.schedule_id)))
        return {row.workflow_instance_id: (row.node_name, row.workflow_instance_status,
                                           'tid="' in (row.workflow_instance_savepoint or ""))
                for row in rows}

    def task_runs(self) -> Counter[int]:
        """How many times the task of each instance started (from the task's own file)."""
        try:
            lines = self.runs.read_text().split()
        except FileNotFoundError:
            return Counter()
        return Counter(int(word) for word in lines if word.isdigit())

    def fired_since(self, when: datetime.datetime, *, besides: str = "") -> list[Fire]:
        """Launched fires due after ``when`` (``when`` in the store's clock), of other nodes
        than ``besides``."""
        return [f for f in self.fires() if f.due > when and f.instance_id is not None
                and f.node != besides]

    def running_holder(self) -> str | None:
        """The node that fired the latest due time, while its task runs and the store knows
        it (a kill then loses nothing of the run), else None."""
        fires = [f for f in self.fires() if f.instance_id is not None]
        if not fires:
            return None
        latest = fires[-1]
        node, status, started = self.instances().get(latest.instance_id or 0, ("", "", False))
        if status == "EXECUTING" and started and self.task_runs()[latest.instance_id or 0]:
            return node
        return None

    def kill_holder(self, nodes: dict[str, Node], timeout: float = 20) -> Node:
        """``kill -9`` the node that fires the current due time, once its task runs."""
        holder: list[str] = []

        def found() -> bool:
            name = self.running_holder()
            if name in nodes and nodes[name].process is not None:
                holder.append(name)
                return True
            return False

        assert wait_for(found, timeout, interval=0.05), "no node was seen running a fire"
        victim = nodes[holder[0]]
        victim.stop(signal.SIGKILL)
        return victim

    def wait_caught_up(self, until: datetime.datetime, timeout: float = 20) -> None:
        """Wait until every due time up to ``until`` is claimed.

        A node whose clock is behind fires late: a due time that passed while the nodes on
        time were restarting is still to come from it. Locking the schedule before would
        cut it off (the end of a run, not a fault of the cluster).
        """
        step = datetime.timedelta(seconds=PERIOD)

        def done() -> bool:
            claimed = {f.due for f in self.fires()}
            due = min(claimed, default=until)
            while due <= until and due in claimed:
                due += step
            return due > until

        assert wait_for(done, timeout, interval=0.2), f"due times up to {until} not all claimed"

    def finish(self, nodes: Iterable[Node], timeout: float = 60) -> None:
        """Lock the schedule on every running node, then wait until every run has ended."""
        live = [node for node in nodes if node.process is not None]
        with admin(live[0]) as client:
            client.exec(f"<workflow_schedule action='lock' id='{self.schedule_id}'/>")
        for node in live[1:]:
            with admin(node) as client:
                client.exec("<control action='reload' module='scheduler' notify='no'/>")
        assert wait_for(lambda: {s for _, s, _ in self.instances().values()} <= {"TERMINATED"},
                        timeout, interval=0.2), "some scheduled runs did not end"

    def tally(self) -> Tally:
        """Count due times, fires, duplicates and misses, from the store and the task side."""
        fires, instances, runs = self.fires(), self.instances(), self.task_runs()
        problems: list[str] = []
        step = datetime.timedelta(seconds=PERIOD)
        due_times = int((fires[-1].due - fires[0].due) / step) + 1 if fires else 0
        claimed = {f.due for f in fires}
        never = [fires[0].due + k * step for k in range(due_times)
                 if fires[0].due + k * step not in claimed]
        problems += [f"due time {due} was never claimed" for due in never]
        named = Counter(f.instance_id for f in fires if f.instance_id is not None)
        problems += [f"instance {i} named by {n} claims" for i, n in named.items() if n > 1]
        unnamed = sorted(i for i in instances if i not in named)
        launched = set(named)
        lost = []
        for fire in (f for f in fires if f.instance_id is None):
            mine = [i for i in unnamed if instances[i][0] == fire.node]
            if mine:
                unnamed.remove(mine[0])
                launched.add(mine[0])
            else:
                lost.append(fire)
        problems += [f"due time {f.due} claimed by {f.node} never launched" for f in lost]
        problems += [f"instance {i} of the schedule has no claim" for i in unnamed]
        doubled = sorted(i for i in launched if runs[i] > 1)
        missing = sorted(i for i in launched if runs[i] == 0)
        problems += [f"the task of instance {i} ran {runs[i]} times" for i in doubled + missing]
        problems += [f"the task of unknown instance {i} ran" for i in runs if i not in launched]
        return Tally(
            due_times=due_times, fires=len(launched),
            duplicates=len(unnamed) + sum(n - 1 for n in named.values()) + len(doubled),
            missed=len(never) + len(lost), claimed_not_launched=len(lost),
            launched_not_recorded=len(launched) - len(named), task_runs=sum(runs.values()),
            tasks_doubled=len(doubled), tasks_missing=len(missing),
            not_terminated=sum(status != "TERMINATED" for _, status, _ in instances.values()),
            fires_by_node=dict(Counter(f.node for f in fires)), problems=problems)


@pytest.fixture
def make_node(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Node]]:
    """``make_node(name, **settings) -> Node`` on the shared store; all stopped at teardown."""
    nodes: list[Node] = []

    def make(name: str, **settings: str) -> Node:
        node = Node(tmp_path / name, name=name, db_url=db_url,
                    settings={"gc.enable": "no", **settings})
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        try:
            if node.process is not None:  # a node left stopped by SIGSTOP must see SIGTERM
                node.process.send_signal(signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError):  # killed, not restarted
                node.stop()
        finally:
            node.remove_ipc_queue()


@pytest.fixture
def probe(tmp_path: Path, db_url: str) -> Iterator[ScheduleProbe]:
    """The ticking schedule, seeded."""
    probe = ScheduleProbe(db_url, tmp_path / "tick")
    probe.seed()
    yield probe
    probe.close()


def _assert_exactly_once(probe: ScheduleProbe, least: int) -> Tally:
    tally = probe.tally()
    assert tally.problems == [], tally
    assert tally.due_times >= least, tally
    assert (tally.fires, tally.task_runs) == (tally.due_times, tally.due_times), tally
    assert tally.not_terminated == 0, tally
    return tally


def _taken_over(probe: ScheduleProbe, victim: Node, count: int = 2, lag: float = 0) -> None:
    """Wait until ``count`` due times after the kill were fired by other nodes (``lag``: how
    much later than the due time they may fire, or the victim may have claimed ahead)."""
    killed = datetime.datetime.now()
    assert wait_for(lambda: len(probe.fired_since(killed, besides=victim.name)) >= count,
                    PERIOD * (count + 3) + lag, interval=0.1), "the other nodes did not take over"


def test_killing_the_node_that_fires_neither_doubles_nor_loses_a_due_time(make_node, probe):
    nodes = {name: make_node(name) for name in ("n1", "n2", "n3")}
    in_parallel(node.start for node in nodes.values())
    assert wait_for(lambda: len(probe.fired_since(datetime.datetime.min)) >= 2, 20)
    victims = []
    for _ in range(2):
        victim = probe.kill_holder(nodes)
        victims.append(victim.name)
        _taken_over(probe, victim)
        victim.start()  # resumes its run; the task's exit waited in the kernel queue
    probe.finish(nodes.values())

    tally = _assert_exactly_once(probe, least=6)
    assert set(tally.fires_by_node) >= set(victims)
    assert len(tally.fires_by_node) >= 2


def test_clocks_five_seconds_apart_neither_double_nor_lose_a_due_time(make_node, probe):
    offsets = {"ahead": 5.0, "right": 0.0, "behind": -5.0}
    nodes = {name: make_node(name) for name in offsets}

    def start(name: str) -> None:
        with clock_offset(offsets[name]):
            nodes[name].start()

    for name in offsets:  # one at a time: the environment is the test process's
        start(name)
    assert "clock shifted by +5.000 s" in nodes["ahead"].output()
    assert wait_for(lambda: [f.node for f in probe.fires()][-3:] == ["ahead"] * 3, 20)
    # from its first fire on, the node ahead reaches every due time first: it fires them all
    # (the others fired the due times that passed before, as far as their clocks go)
    nodes_in_order = [f.node for f in probe.fires()]
    assert set(nodes_in_order[nodes_in_order.index("ahead"):]) == {"ahead"}, nodes_in_order
    probe.kill_holder({"ahead": nodes["ahead"]})
    _taken_over(probe, nodes["ahead"], lag=5)  # it had claimed up to 5 s ahead
    probe.kill_holder({"right": nodes["right"]})
    _taken_over(probe, nodes["right"], lag=5)  # the node behind fires, 5 s late
    assert probe.fires()[-1].node == "behind"
    for name in ("ahead", "right"):
        start(name)
    probe.wait_caught_up(datetime.datetime.now(), timeout=offsets["ahead"] + PERIOD * 4)
    probe.finish(nodes.values())

    tally = _assert_exactly_once(probe, least=8)
    assert set(tally.fires_by_node) == set(offsets)


def _queues_of(node: Node) -> set[str]:
    with admin(node) as client:
        return {q.get("name") for q in client.exec("<statistics action='query' type='queue'/>")[0]}


def _timed(node: Node, command: str) -> float:
    """Seconds the node takes to answer ``command`` (login excluded)."""
    with admin(node) as client:
        began = time.monotonic()
        client.exec(command)
        return time.monotonic() - began


def _queue(name: str) -> str:
    return f"<queue action='create' name='{name}' concurrency='1' scheduler='fifo' dynamic='no'/>"


def test_a_dead_or_hung_peer_never_delays_a_change_and_live_peers_get_it(make_node, tmp_path):
    names = ("a", "b", "c")
    peers = ", ".join(f"unix://{tmp_path / name / 'evqueue.socket'}" for name in names)
    settings = {"cluster.nodes": peers, "cluster.notify.user": "admin",
                "cluster.notify.password": "admin"}
    a, b, c = (make_node(name, **settings) for name in names)
    in_parallel(node.start for node in (a, b, c))
    c.stop(signal.SIGKILL)  # its registry row and its socket file stay
    with admin(a) as client:
        assert "c" in {n.get("name") for n in client.exec("<cluster action='list'/>")}

    workflow = base64.b64encode(b"<workflow><subjobs><job><tasks><task path='/bin/true' "
                                b"queue='default'/></tasks></job></subjobs></workflow>").decode()
    took = [_timed(a, _queue("q1")),
            _timed(a, f"<workflow action='create' name='w1' content='{workflow}'/>"),
            _timed(a, "<control action='reload' module='all'/>")]
    assert max(took) < PROMPT, took
    assert wait_for(lambda: "q1" in _queues_of(b), 10), "the live peer did not reload"
    assert wait_for(lambda: f"cannot notify node unix://{c.socket_path}" in a.output(), 10)

    assert b.process is not None
    b.process.send_signal(signal.SIGSTOP)  # hung: it accepts connections, never answers
    try:
        took = []
        for n in (2, 3, 4):  # over longer than cluster.rcv.timeout (5 s)
            took.append(_timed(a, _queue(f"q{n}")))
            time.sleep(HUNG_SECONDS / 3)
    finally:
        b.process.send_signal(signal.SIGCONT)
    assert max(took) < PROMPT, took
    assert f"cannot notify node unix://{b.socket_path}" in a.output()
    assert wait_for(lambda: {"q2", "q3", "q4"} <= _queues_of(b), 40), \
        "the peer that hung did not get the changes made meanwhile"
