"""A cluster across machines, and its promises when the network fails.

Five machines are network namespaces on one switch (``tests/cluster/netlab.py``), each with
its own address in 10.213.0.0/24, a range that exists only inside them: ``db`` runs a
PostgreSQL server of its own (``tests/cluster/pgserver.py``), ``n1``, ``n2`` and ``n3`` run
one evqueue node each, configured as the README's "On several machines" section shows
(``tests/cluster/machines.py``), and ``client`` is where the test talks from. Nodes reach
each other and the database over the lab's network only; there is no unix socket.

- The cluster works as one: a workflow created on one node is launched on every node, an
  instance is queried and cancelled through another node (WRONG_NODE, naming its node), a
  change of queues reaches every node, and the web UI of one node lists the three nodes and
  reaches each of them.
- A machine cut off (its cable pulled) for :data:`CUT_SECONDS` while two ``any`` schedules
  fire every second: no due time fired twice or lost, its running instances finish and are
  stored when it is back, and every API call to the other nodes meanwhile is answered within
  :data:`PROMPT` seconds.
- A machine cut off from the database only (nftables on that machine): it answers its
  logged-in clients from memory at once, a command that needs the database with SQL_ERROR
  in bounded time (:data:`STORE_GIVEN_UP`) rather than when the database is back, stores
  what it held once it is, and the schedules neither double nor lose a due time.
- A node lost between the INSERT of its claim of a due time and the COMMIT (played by the
  test from a machine ``ghost``, through evqueue's storage layer): PostgreSQL ends the session
  after ``DEAD_LINK_TIMEOUT`` (10 s) and the other nodes fire that due time, late; the due
  times that passed while they waited for its row lock are skipped, nothing is doubled. (The
  other cuts fall between the claims, :func:`between_due_times`.)
- A machine whose clock is 5 s ahead (the scheduler's clock hook): every due time still fires
  once.

The README's section is checked against the configuration the nodes run. The file needs
root (namespaces, nftables, a ``postgres`` server); it is skipped otherwise, and fails rather
than skips in CI (``CI`` set).
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from lxml import etree
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from evqueue.server.clock_offset import CLOCK_OFFSET_ENV
from evqueue.storage.database import Database
from evqueue.storage.network import CONNECT_TIMEOUT, DEAD_LINK_TIMEOUT
from evqueue.storage.tables import t_schedule_fire
from evqueue.storage.transactions import MAX_ATTEMPTS, MAX_DELAY
from tests.cluster.fires import TICK, TICK_SECONDS, Store, Tally
from tests.cluster.machines import CLIENT, WS_PORT, MachineNode, cluster_config, node_config
from tests.cluster.netlab import Lab, can_build_labs
from tests.cluster.pgserver import PostgresServer
from tests.e2e.nodes import wait_for
from tests.server.ws_support import attrs, login, receive_text

pytestmark = pytest.mark.slow

MACHINES = {"db": "10.213.0.10", "n1": "10.213.0.11", "n2": "10.213.0.12",
            "n3": "10.213.0.13", "ghost": "10.213.0.20", CLIENT: "10.213.0.100"}
NODES = ("n1", "n2", "n3")
#: Seconds a machine stays cut off.
CUT_SECONDS = 30
#: Seconds a node cut off from the database takes to answer a command that needs it: its
#: connection is found dead, then each try to connect again gives up (evqueue.storage).
STORE_GIVEN_UP = DEAD_LINK_TIMEOUT + (MAX_ATTEMPTS - 1) * (CONNECT_TIMEOUT + MAX_DELAY)
#: Seconds a machine stays cut off from the database: longer than that.
DB_CUT_SECONDS = STORE_GIVEN_UP + 6
#: Every API call to a node that is not cut off is answered within this many seconds.
PROMPT = 2.0
EVERY_SECOND = ";;;;;"
README = Path(__file__).resolve().parents[2] / "README.md"

WORK = """#!/bin/sh
# work.sh N SECONDS: waits SECONDS, or until the file gates/N exists when SECONDS is "gate"
echo "start $1" >> {runs}
if [ "$2" = gate ]; then
  while [ ! -e {gates}/$1 ]; do sleep 0.1; done
else
  sleep "$2"
fi
echo "done $1"
echo "end $1" >> {runs}
"""

# No whitespace inside <input>: it is mixed content.
_WORK_XML = ("<workflow><parameters><parameter name='n'/><parameter name='seconds'/>"
             "</parameters><subjobs><job name='j'><tasks><task name='w' path='{path}' "
             "queue='work'><input><value select=\"evqGetWorkflowParameter('n')\"/></input>"
             "<input><value select=\"evqGetWorkflowParameter('seconds')\"/></input></task>"
             "</tasks></job></subjobs></workflow>")
_TICK_XML = ("<workflow><subjobs><job name='j'><tasks><task name='t' path='{path}' "
             "queue='tick'><input><value select='/workflow/@id'/></input></task></tasks>"
             "</job></subjobs></workflow>")


# -- the machines --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """The five machines."""
    reason = can_build_labs()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run this file: {reason}")
        pytest.skip(reason)
    lab = Lab()
    try:
        for machine, address in MACHINES.items():
            lab.add_machine(machine, address)
        yield lab
    finally:
        lab.destroy()


@pytest.fixture(scope="module")
def database(lab: Lab) -> Iterator[PostgresServer]:
    """PostgreSQL on ``db``."""
    server = PostgresServer(lab, "db", MACHINES["db"])
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(lab: Lab, database: PostgresServer,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, MachineNode]]:
    """The three nodes, started (the first creates the schema, the others start together)."""
    root = tmp_path_factory.mktemp("machines")
    nodes = {name: MachineNode(root / name, lab=lab, machine=name, database_url=database.url)
             for name in NODES}
    try:
        nodes["n1"].start()
        with concurrent.futures.ThreadPoolExecutor() as pool:
            for future in [pool.submit(nodes[name].start) for name in NODES[1:]]:
                future.result()
        yield nodes
    finally:
        for node in nodes.values():
            try:
                node.stop()
            finally:
                node.remove_ipc_queue()


@pytest.fixture
def on_client(lab: Lab) -> Iterator[None]:
    """The test runs on the ``client`` machine: its sockets and programs are there."""
    with lab.inside(CLIENT):
        yield


@pytest.fixture(scope="module")
def store(lab: Lab, database: PostgresServer) -> Iterator[Store]:
    """Reads of the shared database, from the client machine."""
    with lab.inside(CLIENT):
        reader = Store(database.url)
    yield reader
    reader.close()


class Kit:
    """The queues and workflows of these tests, and what their tasks leave in files.

    ``work`` instances (parameters ``n`` and ``seconds``) run ``work.sh``, which appends
    ``start n`` and ``end n`` to ``work/runs``; ``tick`` instances are launched by ``any``
    schedules due every second and append their id to ``tick/runs``.
    """

    def __init__(self, directory: Path, store: Store) -> None:
        self.store = store
        self.runs = directory / "work" / "runs"
        self.gates = directory / "work" / "gates"
        self.gates.mkdir(parents=True)
        self.work = directory / "work" / "work.sh"
        self.work.write_text(WORK.format(runs=self.runs, gates=self.gates))
        self.tick_runs = directory / "tick" / "runs"
        self.tick = directory / "tick" / "tick.sh"
        self.tick.parent.mkdir()
        self.tick.write_text(TICK.format(runs=self.tick_runs, seconds=TICK_SECONDS))
        for script in (self.work, self.tick):
            script.chmod(0o755)
        self.schedules: list[int] = []

    def install(self, client: Client) -> None:
        """Create the queues and the workflows."""
        for queue in ("work", "tick"):
            client.exec(f"<queue action='create' name='{queue}' concurrency='20' "
                        "scheduler='fifo' dynamic='no'/>")
        for name, xml in (("work", _WORK_XML.format(path=self.work)),
                          ("tick", _TICK_XML.format(path=self.tick))):
            content = base64.b64encode(xml.encode()).decode()
            client.exec(f"<workflow action='create' name='{name}' content='{content}'/>")
        self.tick_id = int(client.exec("<workflows action='list'/>").xpath(
            "workflow[@name='tick']/@id")[0])

    def launch(self, client: Client, n: int, seconds: float | str) -> int:
        """Launch ``work`` ``n`` for ``seconds`` (or ``"gate"``) on the client's node."""
        answer = client.exec(f"<instance action='launch' name='work'><parameter name='n' "
                             f"value='{n}'/><parameter name='seconds' value='{seconds}'/>"
                             "</instance>")
        return int(answer.get("workflow-instance-id"))

    def open_gate(self, n: int) -> None:
        """Let the gated task ``n`` end."""
        (self.gates / str(n)).touch()

    def events(self) -> Counter[str]:
        """How many times each ``start n`` / ``end n`` line was written."""
        try:
            return Counter(line for line in self.runs.read_text().splitlines() if line)
        except FileNotFoundError:
            return Counter()

    def wait_started(self, numbers: list[int], timeout: float = 30) -> None:
        """Wait until the task of each number has started."""
        assert wait_for(lambda: all(self.events()[f"start {n}"] for n in numbers), timeout,
                        interval=0.1), f"not all of {numbers} started: {self.events()}"

    def wait_stored(self, instances: dict[int, int], timeout: float = 60) -> dict[int, object]:
        """Wait until the store has every instance (number -> id) TERMINATED; their rows."""
        ids = list(instances.values())

        def stored() -> bool:
            rows = self.store.instances(ids)
            return len(rows) == len(ids) and all(r["status"] == "TERMINATED"
                                                 for r in rows.values())

        assert wait_for(stored, timeout, interval=0.2), self.store.instances(ids)
        return dict(self.store.instances(ids))

    def check_work(self, instances: dict[int, int], node: str, timeout: float = 60) -> None:
        """Each ``work`` instance ended well on ``node``, its output stored, its task run once."""
        rows = self.wait_stored(instances, timeout)
        events = self.events()
        for n, instance_id in instances.items():
            row = rows[instance_id]
            assert (row["node_name"], row["errors"]) == (node, 0), (n, dict(row))
            assert f"done {n}" in row["savepoint"], (n, row["savepoint"])
            assert (events[f"start {n}"], events[f"end {n}"]) == (1, 1), (n, events)

    def schedule(self, client: Client) -> int:
        """A new ``any`` schedule of ``tick``, due every second; returns its id."""
        answer = client.exec(f"<workflow_schedule action='create' workflow_id='{self.tick_id}' "
                             f"node='any' schedule='{EVERY_SECOND}' onfailure='CONTINUE'/>")
        schedule_id = int(answer.get("schedule-id"))
        self.schedules.append(schedule_id)
        return schedule_id

    def stop_schedules(self, nodes: list[MachineNode], timeout: float = 60) -> None:
        """Lock the schedules, make sure every node knows, wait until their runs ended."""
        with nodes[0].client() as client:
            for schedule_id in self.schedules:
                client.exec(f"<workflow_schedule action='lock' id='{schedule_id}'/>")
        for node in nodes[1:]:
            with node.client() as client:
                client.exec("<control action='reload' module='scheduler' notify='no'/>")
        assert wait_for(lambda: self.store.unfinished(self.schedules) == 0, timeout,
                        interval=0.2), "some scheduled runs did not end"

    def tally(self, schedule_id: int) -> Tally:
        """Exactly-once count of one schedule (``tests/cluster/fires.py``)."""
        return self.store.tally(schedule_id, self.tick_runs)


@pytest.fixture(scope="module")
def kit(lab: Lab, cluster: dict[str, MachineNode], store: Store,
        tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """Queues and workflows, created on ``n1`` and known by every node."""
    kit = Kit(tmp_path_factory.mktemp("kit"), store)
    with cluster["n1"].client() as client:
        kit.install(client)
    for node in cluster.values():
        assert wait_for(lambda node=node: {"work", "tick"} <= queues_of(node), 20), node.name
    return kit


def queues_of(node: MachineNode) -> set[str]:
    """The queues a node knows (from its memory)."""
    with node.client() as client:
        return {q.get("name") for q in
                client.exec("<statistics action='query' type='queue'/>")[0]}


def restart(node: MachineNode, env: dict[str, str] | None = None) -> None:
    """Stop the node and start it again (with ``env`` for its engine); its log starts anew."""
    node.stop()
    node.env = dict(env or {})
    log = node.directory / "engine.log"
    log.rename(log.with_suffix(f".{time.monotonic_ns()}"))
    node.start()


def running_on(node: MachineNode, numbers: list[int], kit: Kit) -> dict[int, int]:
    """Launch gated ``work`` instances on ``node``; number -> id."""
    with node.client() as client:
        return {n: kit.launch(client, n, "gate") for n in numbers}


# -- the README ----------------------------------------------------------------------------------


def readme_section() -> str:
    """The README's "On several machines" section."""
    text = README.read_text()
    start = text.index("### On several machines")
    end = text.index("\n## ", start)
    return text[start:end]


def test_the_readme_shows_the_machines_these_tests_build() -> None:
    section = readme_section()
    addresses = [MACHINES[name] for name in NODES]
    assert cluster_config(PostgresServer.url_at(MACHINES["db"]), addresses) in section
    assert node_config("n1", MACHINES["n1"]) in section
    for line in (f"host {PostgresServer.database} {PostgresServer.user} 10.213.0.0/24 "
                 "scram-sha-256",
                 f"listen_addresses={MACHINES['db']}",
                 f"CREATE ROLE {PostgresServer.user} LOGIN PASSWORD '{PostgresServer.password}'",
                 f"CREATE DATABASE {PostgresServer.database} OWNER {PostgresServer.user}",
                 "evqueue --config /etc/evqueue.conf --daemon"):
        assert line in section, line


# -- the cluster at work -------------------------------------------------------------------------


def evqueue_api(node: MachineNode, *args: str) -> str:
    """Run the README's ``evqueue-api`` against ``node``, from the client machine."""
    program = Path(sys.executable).with_name("evqueue-api")
    command = [str(program)] if program.exists() else [sys.executable, "-m", "evqueue.cli.api"]
    env = {**os.environ, "EVQUEUE_API_USER": "admin", "EVQUEUE_API_PASSWORD": "admin"}
    with node.lab.inside(CLIENT):
        done = subprocess.run([*command, "--connect", node.url, *args], capture_output=True,
                              text=True, timeout=60, cwd=README.parent, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_three_machines_work_as_one_cluster(cluster, kit, on_client) -> None:
    n1, n2, n3 = (cluster[name] for name in NODES)
    told = "reloading module workflows (cluster notification)"
    before = {node.name: node.output().count(told) for node in (n2, n3)}
    evqueue_api(n1, "workflow", "create", "--file", "examples/workflows/hello.xml",
                "--name", "hello", "--group", "demo")
    for node in (n2, n3):  # told by n1, in the background
        assert wait_for(lambda node=node: node.output().count(told) > before[node.name], 20), \
            node.output()
    launched = {}
    for node in (n1, n2, n3):
        out = evqueue_api(node, "--xml", "instance", "launch", "hello", "-p", "who=team",
                          "--sync")
        launched[node.name] = int(re.search(r'workflow-instance-id="(\d+)"', out).group(1))
    listed = evqueue_api(n3, "--xml", '<cluster action="list"/>')
    assert re.findall(r'<node [^>]*name="([^"]+)"', listed) == list(NODES), listed
    with n1.client() as client:
        for name, instance_id in launched.items():
            output = client.exec(f"<instance action='query' id='{instance_id}'/>").find(
                ".//output").text
            assert output.startswith(f"Hello team from {name}\n"), (name, output)

    # a running instance belongs to its node: the others send the client there
    gated = {node.name: running_on(node, [100 + k], kit) for k, node in enumerate(cluster.values())}
    kit.wait_started([100, 101, 102])
    for owner, other in ((n1, n2), (n2, n3), (n3, n1)):
        [instance_id] = gated[owner.name].values()
        with other.client() as client:
            for action in ("query", "cancel"):
                with pytest.raises(ApiError) as refused:
                    client.exec(f"<instance action='{action}' id='{instance_id}'/>")
                assert refused.value.code == "WRONG_NODE"
                assert f"corresponding node ({owner.name})" in str(refused.value)
        with owner.client() as client:
            assert client.exec(f"<instance action='query' id='{instance_id}'/>").find(
                "workflow").get("status") == "EXECUTING"
            client.exec(f"<instance action='cancel' id='{instance_id}'/>")
    for n in (100, 101, 102):
        kit.open_gate(n)
    for owner in (n1, n2, n3):
        kit.wait_stored(gated[owner.name])

    # a change on one node reaches the others
    with n2.client() as client:
        client.exec("<queue action='create' name='everywhere' concurrency='2' scheduler='fifo' "
                    "dynamic='no'/>")
    for node in (n1, n3):
        assert wait_for(lambda node=node: "everywhere" in queues_of(node), 20), node.name
        assert "reloading module queuepool (cluster notification)" in node.output()

    # the web UI of n1: its page, then the node list it shows, each node reached
    with n1.lab.inside(CLIENT):
        seen = asyncio.run(web_ui_nodes(n1))
    assert seen == {name: (MACHINES[name], name) for name in NODES}


async def web_ui_nodes(node: MachineNode) -> dict[str, tuple[str, str]]:
    """What the web UI served by ``node`` does first: load the page, log in on its websocket,
    list the cluster's nodes, open an ``events`` websocket to each. Returns, per listed node,
    the host of its websocket URL and the name its greeting gave."""
    base = f"http://{node.address}:{WS_PORT}"
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/") as page:
            assert page.status == 200
            assert "<title>evQueue</title>" in await page.text()
        async with session.get(f"{base}/static/js/cluster.js") as script:
            assert script.status == 200 and "cluster" in await script.text()
        ws = await session.ws_connect(f"ws://{node.address}:{WS_PORT}/", protocols=("api",))
        assert (await login(ws)).startswith("<ready ")
        await ws.send_str("<cluster action='list' />")
        listed = [(row.get("name"), row.get("ws"))
                  for row in etree.fromstring((await receive_text(ws)).encode())]
        await ws.close()
        seen = {}
        for name, url in listed:
            events = await session.ws_connect(url, protocols=("events",))
            greeting = await login(events)
            seen[name] = (re.match(r"ws://([^:/]+)", url).group(1), attrs(greeting)["node"])
            await events.close()
        return seen


# -- a machine cut off ---------------------------------------------------------------------------


class Stopwatch:
    """Seconds taken by each kind of API call."""

    def __init__(self) -> None:
        self.took: dict[str, list[float]] = defaultdict(list)

    def call(self, label: str, action, *args):  # type: ignore[no-untyped-def]
        began = time.monotonic()
        try:
            return action(*args)
        finally:
            self.took[label].append(time.monotonic() - began)

    def slowest(self) -> float:
        return max(max(values) for values in self.took.values())

    def summary(self) -> str:
        return ", ".join(f"{label}: {len(v)} calls, median {statistics.median(v):.3f} s, "
                         f"max {max(v):.3f} s" for label, v in sorted(self.took.items()))


def between_due_times() -> None:
    """Wait until half a second after a due time of the schedules (due every second).

    The nodes claim a due time right after it: a node lost between the INSERT of its claim
    and its COMMIT holds that row's lock, and the other nodes' claims of that due time wait
    until PostgreSQL ends the session, 10 s later, skipping the due times that pass meanwhile
    (``test_a_node_lost_in_the_middle_of_a_claim_holds_that_due_time_10_s_at_most``). The
    other cuts fall between the claims, where nothing at all is lost.
    """
    time.sleep((0.5 - time.time() % 1) % 1)


def _expect_wrong_node(client: Client, command: str) -> None:
    with pytest.raises(ApiError) as refused:
        client.exec(command)
    assert refused.value.code == "WRONG_NODE"


def call_healthy_nodes(nodes: list[MachineNode], kit: Kit, held: int, seconds: float,
                       watch: Stopwatch) -> dict[int, int]:
    """Ask the nodes everything a user would, for ``seconds``; returns the ``work`` instances
    launched meanwhile (number -> id)."""
    launched: dict[int, int] = {}
    clients = [node.client(timeout=30) for node in nodes]
    deadline = time.monotonic() + seconds
    round_ = 0
    try:
        while time.monotonic() < deadline:
            round_ += 1
            for node, client in zip(nodes, clients, strict=True):
                watch.call("login", lambda node=node: node.client().close())
                watch.call("ping", client.exec, "<ping/>")
                watch.call("status", client.exec, "<status action='query' type='workflows'/>")
                watch.call("cluster list", client.exec, "<cluster action='list'/>")
                watch.call("instances list", client.exec, "<instances action='list'/>")
                for action in ("query", "cancel"):  # an instance of the machine cut off
                    watch.call(f"{action} elsewhere", _expect_wrong_node, client,
                               f"<instance action='{action}' id='{held}'/>")
                n = 1000 + len(launched)
                launched[n] = watch.call("launch", kit.launch, client, n, 0)
                if round_ % 5 == 1:  # a change, which the node tells the others of
                    watch.call("queue create", client.exec,
                               f"<queue action='create' name='q{n}' concurrency='1' "
                               "scheduler='fifo' dynamic='no'/>")
            time.sleep(0.2)
    finally:
        for client in clients:
            client.close()
    return launched


def test_a_machine_cut_off_for_30_s_loses_and_doubles_nothing(lab, cluster, kit, store,
                                                               on_client) -> None:
    n1, n2, n3 = (cluster[name] for name in NODES)
    with n1.client() as client:
        schedules = [kit.schedule(client) for _ in range(2)]
    with n3.client() as client:  # they end during the cut, one is still running after it
        held = {n: kit.launch(client, n, seconds) for n, seconds in ((1, 2), (2, 10), (3, 20))}
    kit.wait_started(list(held))
    assert wait_for(lambda: all(len(store.claims(s)) >= 3 for s in schedules), 20)

    watch = Stopwatch()
    between_due_times()
    cut_at = datetime.datetime.now()
    lab.cut("n3")
    try:
        launched = call_healthy_nodes([n1, n2], kit, held[3], CUT_SECONDS, watch)
    finally:
        lab.mend("n3")
    mended_at = datetime.datetime.now()
    mended = time.monotonic()
    kit.check_work(held, "n3", timeout=120)
    stored_after = time.monotonic() - mended
    for node in (n1, n2):  # what the healthy nodes launched meanwhile
        kit.check_work({n: i for n, i in launched.items()
                        if store.instances([i])[i]["node_name"] == node.name}, node.name)
    kit.stop_schedules([n1, n2, n3])

    fired = []
    for schedule_id in schedules:
        tally = kit.tally(schedule_id)
        assert tally.problems == [], tally
        during = tally.by_node(cut_at + datetime.timedelta(seconds=1), mended_at)
        assert set(during) <= {"n1", "n2"}, during
        assert sum(during.values()) >= CUT_SECONDS - 2, during
        fired.append(f"{tally.due_times} due times fired once, by {dict(tally.by_node())}, "
                     f"during the cut by {dict(during)}, {tally.unrecorded} launched by n3 "
                     "without the record of their instance")
    assert watch.slowest() < PROMPT, watch.summary()
    print(f"\ncut of n3 for {CUT_SECONDS} s: {watch.summary()}; n3's instances stored "
          f"{stored_after:.1f} s after the link was back; schedules: {'; '.join(fired)}")


# -- a machine cut off from the database ---------------------------------------------------------


def test_a_machine_cut_off_from_the_database_keeps_serving_and_loses_nothing(
        lab, cluster, kit, store, on_client) -> None:
    n1, n2, n3 = (cluster[name] for name in NODES)
    with n1.client() as client:
        schedule_id = kit.schedule(client)
    user, other = n3.client(), n3.client(timeout=120)  # logged in before the cut
    try:
        # running at the cut, they end during it (one when the test lets it)
        held = {n: kit.launch(user, n, seconds) for n, seconds in ((11, 4), (12, 10))}
        held[13] = kit.launch(user, 13, "gate")
        kit.wait_started(list(held))
        assert wait_for(lambda: len(store.claims(schedule_id)) >= 3, 20)

        watch = Stopwatch()
        needs_store: dict[str, object] = {}
        between_due_times()
        cut_at = datetime.datetime.now()
        lab.block("n3", MACHINES["db"])
        try:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                # a command that needs the store: answered SQL_ERROR in bounded time
                asked = pool.submit(answer_of, other, "<instances action='list'/>")
                deadline = time.monotonic() + DB_CUT_SECONDS
                while time.monotonic() < deadline:
                    watch.call("ping", user.exec, "<ping/>")
                    running = watch.call("status", user.exec,
                                         "<status action='query' type='workflows'/>")
                    assert held[13] in {int(w.get("id")) for w in running}
                    for instance_id in held.values():
                        watch.call("query", user.exec,
                                   f"<instance action='query' id='{instance_id}'/>")
                    watch.call("statistics", user.exec,
                               "<statistics action='query' type='queue'/>")
                    time.sleep(0.2)
                assert asked.done(), "a command waited for the database as long as the cut"
                needs_store.update(asked.result())
            # the tasks ended meanwhile: the node shows their outputs, the store has not them
            outputs = user.exec(f"<instance action='query' id='{held[12]}'/>").xpath(
                ".//output/text()")
            assert "done 12\n" in outputs, outputs
            assert store.instances([held[12]])[held[12]]["status"] == "EXECUTING"
        finally:
            lab.unblock("n3")
        unblocked_at = datetime.datetime.now()
        kit.open_gate(13)
        kit.check_work(held, "n3", timeout=120)
    finally:
        user.close()
        other.close()
    kit.stop_schedules([n1, n2, n3])

    assert needs_store["code"] == "SQL_ERROR", needs_store
    assert needs_store["took"] < STORE_GIVEN_UP + 3, needs_store
    tally = kit.tally(schedule_id)
    assert tally.problems == [], tally
    during = tally.by_node(cut_at + datetime.timedelta(seconds=1), unblocked_at)
    assert set(during) <= {"n1", "n2"}, during
    assert sum(during.values()) >= DB_CUT_SECONDS - 2, during
    assert watch.slowest() < PROMPT, watch.summary()
    print(f"\nn3 cut from the database for {DB_CUT_SECONDS:.0f} s: {watch.summary()}; a "
          f"command that needs the store answered {needs_store['code']} after "
          f"{needs_store['took']:.1f} s; schedule: {tally.due_times} due times fired once, by "
          f"{dict(tally.by_node())}, during the cut by {dict(during)}")


def answer_of(client: Client, command: str) -> dict[str, object]:
    """The error code of ``command`` (None: it succeeded) and the seconds it took."""
    began = time.monotonic()
    try:
        client.exec(command)
        code = None
    except ApiError as error:
        code = error.code
    return {"code": code, "took": time.monotonic() - began}


# -- a node lost in the middle of a claim --------------------------------------------------------


class LostClaim:
    """A claim of ``due`` INSERTed and never committed by evqueue's storage layer on the
    machine ``ghost``, whose cable is then pulled: a node lost in the middle of a claim."""

    def __init__(self, lab: Lab, url: str, schedule_id: int, due: datetime.datetime) -> None:
        self.runner = asyncio.Runner()
        self.db: Database | None = None
        with lab.inside("ghost"):
            self.runner.run(self._hold(url, schedule_id, due))

    async def _hold(self, url: str, schedule_id: int, due: datetime.datetime) -> None:
        self.db = await Database.open(url)
        inserted, never = asyncio.Event(), asyncio.Event()

        async def claim(conn: AsyncConnection) -> None:
            await conn.execute(insert(t_schedule_fire).values(
                workflow_schedule_id=schedule_id, due_time=due, node_name="ghost"))
            inserted.set()
            await never.wait()

        self.task = asyncio.get_running_loop().create_task(self.db.write(claim))
        await inserted.wait()

    def close(self) -> None:
        """Drop what is left (the server ended the session long ago)."""
        with contextlib.suppress(Exception):
            self.runner.close()


def test_a_node_lost_in_the_middle_of_a_claim_holds_that_due_time_10_s_at_most(
        lab, cluster, kit, store, database, on_client) -> None:
    n1, n2, n3 = (cluster[name] for name in NODES)
    with n1.client() as client:
        schedule_id = kit.schedule(client)
    assert wait_for(lambda: len(store.claims(schedule_id)) >= 2, 20)
    between_due_times()
    due = datetime.datetime.now().replace(microsecond=0) + datetime.timedelta(seconds=1)
    lost = LostClaim(lab, database.url, schedule_id, due)
    lab.cut("ghost")
    lost_at = time.monotonic()
    try:
        def taken() -> bool:  # by a node, once the server ended the lost session
            return any(c.due == due for c in store.claims(schedule_id))

        assert wait_for(taken, DEAD_LINK_TIMEOUT + 10, interval=0.1)
        held = time.monotonic() - lost_at
        resumed = due + datetime.timedelta(seconds=DEAD_LINK_TIMEOUT + 2)
        assert wait_for(lambda: sum(c.due > resumed for c in store.claims(schedule_id)) >= 3,
                        20, interval=0.2), "the schedule did not go on"
    finally:
        lab.mend("ghost")
        lost.close()
    kit.stop_schedules([n1, n2, n3])

    tally = kit.tally(schedule_id)
    skipped = [t for t in tally.never_claimed if due < t <= resumed]
    assert len(tally.problems) == len(skipped), tally  # nothing else went wrong
    assert held < DEAD_LINK_TIMEOUT + 3, held
    [claim] = [c for c in tally.claims if c.due == due]
    assert claim.node in NODES and claim.instance_id, claim
    print(f"\na claim lost in the middle held its due time {held:.1f} s; {len(skipped)} due "
          f"times passed meanwhile were skipped; the due time held fired late by {claim.node}")


# -- clock skew ----------------------------------------------------------------------------------


def test_a_clock_5_s_ahead_still_fires_each_due_time_once(cluster, kit, store,
                                                           on_client) -> None:
    n1, n2, n3 = (cluster[name] for name in NODES)
    restart(n2, {CLOCK_OFFSET_ENV: "5"})
    try:
        assert "clock shifted by +5.000 s" in n2.output()
        with n1.client() as client:
            schedule_id = kit.schedule(client)

        def fired_by_n2() -> list[str]:
            nodes = [claim.node for claim in store.claims(schedule_id)]
            return nodes[nodes.index("n2"):] if "n2" in nodes else []

        # from its first fire on, the node ahead reaches every due time first
        assert wait_for(lambda: len(fired_by_n2()) >= 8, 30, interval=0.2)
        kit.stop_schedules([n1, n2, n3])
    finally:
        restart(n2)
    tally = kit.tally(schedule_id)
    assert tally.problems == [], tally
    assert set(fired_by_n2()) == {"n2"}, tally.claims
    print(f"\nn2 5 s ahead: {tally.due_times} due times fired once, by {dict(tally.by_node())}")
