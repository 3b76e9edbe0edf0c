"""The seed's multi-user development cluster, end to end, with the shipped config and scripts.

Three developers' directories under a temporary data directory; ``start-cluster.sh`` starts a
node for each from ONE configuration file; the nodes share one store (SQLite in the data
directory, or the PostgreSQL/MariaDB database of the run) and tell each other about changes.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from evqueue.client.sync import Client
from evqueue.process.ipc import parse_qid, remove_queue
from evqueue.protocol import UnknownInstance, WrongNode
from tests.e2e.nodes import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "multiuser"
SHIPPED_CONFIG = EXAMPLES / "evqueue.multiuser.conf"
DEVELOPERS = ("alice", "bob", "carol")

HELLO = """<workflow><subjobs><job name="greet"><tasks>
<task name="hello" path="hello.sh" queue="team" output-method="TEXT"/>
</tasks></job></subjobs></workflow>"""
SLEEPER = """<workflow><subjobs><job name="nap"><tasks>
<task name="sleep" path="/bin/sleep" queue="default" parameters-mode="CMDLINE">
<input name="seconds">120</input></task></tasks></job></subjobs></workflow>"""


def free_base(count: int) -> int:
    """A port such that it and the ``count - 1`` next ones are free on 127.0.0.1."""
    while True:
        base = random.randrange(20000, 60000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base


class Team:
    """A data directory with developer directories, and the commands a person would run."""

    def __init__(self, data: Path, config: Path, base: int, developers: tuple[str, ...]) -> None:
        self.data = data
        self.config = config
        self.base = base
        self.developers = developers
        self.env = {**os.environ, "HOME": str(data / ".home"),
                    "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        for name in ("EVQUEUE_API_CONNECT", "EVQUEUE_API_USER", "EVQUEUE_API_PASSWORD"):
            self.env.pop(name, None)

    def add_developer(self, login: str) -> None:
        tasks = self.data / login / "evqueue-tasks"
        tasks.mkdir(parents=True)
        # the IPC key comes from the directory's inode: a recycled inode could bring back a
        # queue (and task exits) left by an earlier run
        remove_queue(parse_qid(str(self.data / login)))
        (tasks / "hello.sh").write_text(f'#!/bin/sh\necho "Hello from {login}"\n')
        (tasks / "hello.sh").chmod(0o755)

    def run(self, *command: str, env: dict[str, str] | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              cwd=ROOT, env={**self.env, **(env or {})}, check=False)

    def script(self, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
        port = ("--port", str(self.base)) if name == "start-cluster.sh" else ()
        return self.run(str(EXAMPLES / name), "--data", str(self.data), *port,
                        "--config", str(self.config), *extra)

    def socket(self, login: str) -> str:
        return str(self.data / login / "evqueue.socket")

    def client(self, login: str) -> Client:
        return Client(f"unix://{self.socket(login)}", "admin", "admin", timeout=60)

    def pid(self, login: str) -> int | None:
        try:
            text = (self.data / login / "evqueue.pid").read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def cleanup(self) -> None:
        """Stop every node this test started (by its pid), drop the IPC queues and files."""
        self.script("stop-cluster.sh")
        for login in self.developers:
            pid = self.pid(login)
            if pid is not None and _is_engine(pid):
                os.kill(pid, signal.SIGKILL)
            if (self.data / login).exists():
                remove_queue(parse_qid(str(self.data / login)))
        shutil.rmtree(self.data, ignore_errors=True)


def _is_engine(pid: int) -> bool:
    try:
        return b"evqueue" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.fixture
def team(backend_name, db_url) -> Iterator[Team]:
    """Three developers in a short temporary data directory (unix socket paths are short)."""
    data = Path(tempfile.mkdtemp(prefix="evqmu-", dir="/tmp"))
    config = SHIPPED_CONFIG
    if backend_name != "sqlite":
        # the shipped file, told to use this run's database (a later key wins)
        config = data.with_suffix(".conf")
        config.write_text(SHIPPED_CONFIG.read_text() + f"\ndatabase.url = '{db_url}'\n")
    team = Team(data, config, free_base(len(DEVELOPERS)), DEVELOPERS)
    for login in DEVELOPERS:
        team.add_developer(login)
    try:
        yield team
    finally:
        team.cleanup()
        if config != SHIPPED_CONFIG:
            config.unlink()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def queues_of(client: Client) -> set[str]:
    return {q.get("name") for q in client.exec("<statistics action='query' type='queue'/>")[0]}


def outputs(client: Client, instance_id: str) -> list[str]:
    tree = client.exec(f"<instance action='query' id='{instance_id}'/>")
    return [(o.text or "").strip() for o in tree.iter("output")]


def live_nodes(client: Client) -> dict[str, tuple[str, str]]:
    return {n.get("name"): (n.get("api"), n.get("ws"))
            for n in client.exec("<cluster action='list'/>")}


@pytest.mark.backends
def test_a_development_cluster_for_three_developers(team: Team):
    started = team.script("start-cluster.sh")
    assert started.returncode == 0, started.stderr
    for rank, login in enumerate(DEVELOPERS):
        assert (f"{login} started: unix://{team.socket(login)}, websocket port "
                f"{team.base + rank}") in started.stdout
    _check_one_node_per_developer(team)
    _check_definitions_are_shared_and_tasks_are_personal(team)
    sleeper = _check_instances_belong_to_their_node(team)
    _check_one_node_stops_and_rejoins(team, sleeper)

    stopped = team.script("stop-cluster.sh")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.split("\n")[:3] == [f"{login} stopped" for login in DEVELOPERS]
    for login in DEVELOPERS:
        assert team.pid(login) is None
        assert not os.path.exists(team.socket(login))
    status = team.run("evqueue", "cluster", "status", "--data", str(team.data),
                      "--config", str(team.config), "--port", str(team.base))
    assert status.returncode == 1
    assert [line.split()[-1] for line in status.stdout.splitlines()] == ["down"] * 3


def _check_one_node_per_developer(team: Team) -> None:
    pids = [team.pid(login) for login in DEVELOPERS]
    assert None not in pids and len(set(pids)) == 3
    for login in DEVELOPERS:
        assert stat.S_ISSOCK(os.stat(team.socket(login)).st_mode)
    status = team.run("evqueue", "cluster", "status", "--data", str(team.data),
                      "--config", str(team.config), "--port", str(team.base))
    assert status.returncode == 0, status.stderr
    lines = [line.split() for line in status.stdout.splitlines()]
    assert [(f[0], int(f[2]), f[3], int(f[5]), f[-1]) for f in lines] == [
        (login, pid, f"unix://{team.socket(login)}", team.base + rank, "up")
        for rank, (login, pid) in enumerate(zip(DEVELOPERS, pids, strict=True))]
    keys = [f[7] for f in lines]
    assert keys == [f"{parse_qid(str(team.data / login)) & 0xFFFFFFFF:#010x}"
                    for login in DEVELOPERS]
    assert len(set(keys)) == 3, "one IPC queue per node"
    derived = str(team.data / ".evqueue.multiuser.conf")
    for rank, login in enumerate(DEVELOPERS):
        stats = team.run("evqueue", "--config", derived, "--ipcq-stats",
                         env={"login": login, "port": str(team.base + rank)})
        assert stats.returncode == 0, stats.stderr
        assert re.search(r"Queue size : \d+\nPending messages : 0\n", stats.stdout)
    with team.client("alice") as alice:
        assert live_nodes(alice) == {
            login: (f"unix://{team.socket(login)}", f"ws://127.0.0.1:{team.base + rank}/")
            for rank, login in enumerate(DEVELOPERS)}
    for rank in range(3):  # every websocket port serves (the web UI)
        with socket.create_connection(("127.0.0.1", team.base + rank), timeout=10):
            pass


def _check_definitions_are_shared_and_tasks_are_personal(team: Team) -> None:
    with team.client("alice") as alice:
        alice.exec("<queue action='create' name='team' concurrency='2' scheduler='fifo' "
                   "dynamic='no'/>")
        alice.exec(f"<workflow action='create' name='hello' group='demo' "
                   f"content='{b64(HELLO)}'/>")
    for login in ("bob", "carol"):
        with team.client(login) as client:
            names = [w.get("name") for w in client.exec("<workflows action='list'/>")]
            assert names == ["hello"], "a definition is everyone's at once"
            # the other nodes were told to reload their queues
            assert wait_for(lambda c=client: "team" in queues_of(c), 30)
    for login in DEVELOPERS:
        with team.client(login) as client:
            launched = client.exec("<instance action='launch' name='hello' mode='synchronous'/>")
            instance_id = launched.get("workflow-instance-id")
            assert outputs(client, instance_id) == [f"Hello from {login}"]
    with team.client("carol") as carol:
        history = carol.exec("<instances action='list'/>")
    assert sorted(w.get("node_name") for w in history) == sorted(DEVELOPERS)


def _check_instances_belong_to_their_node(team: Team) -> str:
    with team.client("carol") as carol:
        carol.exec(f"<workflow action='create' name='sleeper' content='{b64(SLEEPER)}'/>")
        sleeper = carol.exec("<instance action='launch' name='sleeper'/>").get(
            "workflow-instance-id")
    with team.client("alice") as alice:
        assert wait_for(lambda: _wrong_node(alice, f"<instance action='query' id='{sleeper}'/>"),
                        30), "the running instance is carol's"
        for command in ("cancel", "kill"):
            with pytest.raises(WrongNode, match=r"\(carol\)"):
                alice.exec(f"<instance action='{command}' id='{sleeper}'/>")
        with pytest.raises(WrongNode, match=r"\(carol\)"):
            alice.exec(f"<instance action='killtask' id='{sleeper}' pid='1'/>")
    with team.client("bob") as bob:
        with pytest.raises(WrongNode, match=r"\(carol\)"):
            bob.exec(f"<instance action='wait' id='{sleeper}' timeout='1'/>")
        history = bob.exec("<instances action='list'/>")
    assert {(w.get("id"), w.get("node_name"), w.get("status")) for w in history} >= {
        (sleeper, "carol", "EXECUTING")}
    return sleeper


def _wrong_node(client: Client, command: str) -> bool:
    try:
        client.exec(command)
    except WrongNode as error:
        assert "(carol)" in str(error)
        return True
    except Exception:  # not saved yet: the instance is still unknown here
        return False
    return False


def _stop_node(team: Team, login: str) -> None:
    pid = team.pid(login)
    os.kill(pid, signal.SIGTERM)
    assert wait_for(lambda: team.pid(login) is None and not _is_engine(pid), 30)


def _check_one_node_stops_and_rejoins(team: Team, sleeper: str) -> None:
    _stop_node(team, "bob")
    with team.client("alice") as alice:
        assert set(live_nodes(alice)) == {"alice", "carol"}
        # a change while bob is away: answered at once, bob is told in the background
        alice.exec("<queue action='create' name='late' concurrency='1' scheduler='fifo' "
                   "dynamic='no'/>")
    with team.client("carol") as carol:
        assert wait_for(lambda: "late" in queues_of(carol), 30)
        running = carol.exec("<status action='query' type='workflows'/>")
        assert [w.get("id") for w in running] == [sleeper], "carol's instance runs on"
        carol.exec(f"<instance action='kill' id='{sleeper}'/>")
        with contextlib.suppress(UnknownInstance):  # it may have ended already
            carol.exec(f"<instance action='wait' id='{sleeper}' timeout='30'/>")
        assert wait_for(lambda: carol.exec(f"<instance action='query' id='{sleeper}'/>")[0]
                        .get("status") == "TERMINATED", 30)
    _stop_node(team, "carol")

    again = team.script("start-cluster.sh")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "alice is already running",
        f"bob started: unix://{team.socket('bob')}, websocket port {team.base + 1}",
        f"carol started: unix://{team.socket('carol')}, websocket port {team.base + 2}"]
    for login in ("bob", "carol"):
        with team.client(login) as client:
            assert {"team", "late"} <= queues_of(client)
            names = {w.get("name") for w in client.exec("<workflows action='list'/>")}
            assert names == {"hello", "sleeper"}
            launched = client.exec("<instance action='launch' name='hello' "
                                   "mode='synchronous'/>")
            assert outputs(client, launched.get("workflow-instance-id")) == [
                f"Hello from {login}"]
            assert set(live_nodes(client)) == set(DEVELOPERS)


def test_nodes_of_one_machine_sharing_a_tcp_port_are_reported():
    data = Path(tempfile.mkdtemp(prefix="evqtc-", dir="/tmp"))
    config = data.with_suffix(".conf")
    tcp = free_base(1)
    config.write_text(SHIPPED_CONFIG.read_text()
                      + f"\nnetwork.bind.ip = 127.0.0.1\nnetwork.bind.port = {tcp}\n")
    team = Team(data, config, free_base(2), ("alice", "bob"))
    for login in team.developers:
        team.add_developer(login)
    try:
        started = team.script("start-cluster.sh")
    finally:
        team.cleanup()
        config.unlink()
    assert started.returncode == 1
    assert started.stdout.startswith("alice started: ")
    assert (f"evqueue: network.bind.port: port {tcp} is already in use on 127.0.0.1\n"
            "bob did not start\n") in started.stderr


README_SECTION = "## A development cluster for your team"


def readme_commands() -> list[str]:
    """The shell blocks of the README's one-machine walkthrough, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split(README_SECTION, 1)[1].split("\n## ", 1)[0]
    walkthrough = section.split("### On one machine", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", walkthrough, flags=re.S)


def test_the_readme_walkthrough_runs_as_written():
    data = Path(tempfile.mkdtemp(prefix="evqrd-", dir="/tmp"))
    team = Team(data, SHIPPED_CONFIG, free_base(2), ("alice", "bob"))
    blocks = readme_commands()
    assert len(blocks) == 3
    results = []
    try:
        for block in blocks:
            script = block.replace("/data", str(data)).replace("5100", str(team.base))
            result = team.run("bash", "-euo", "pipefail", "-c", script)
            assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
            results.append(result.stdout)
    finally:
        team.cleanup()
    start, use, stop = results
    assert re.search(rf"alice  pid \d+ +unix://{data}/alice/evqueue.socket  ws {team.base}  "
                     r"ipc 0x[0-9a-f]{8}  up\n", start)
    assert f"bob started: unix://{data}/bob/evqueue.socket, websocket port {team.base + 1}" \
        in start
    assert "Hello from bob" in use and "Hello from alice" not in use
    assert re.search(r"\balice\b.*\bbob\b", use, flags=re.S)
    assert stop == "alice stopped\nbob stopped\n"
