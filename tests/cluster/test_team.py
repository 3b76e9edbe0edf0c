"""The development cluster of one machine: developers, their nodes' settings, start/stop/status."""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from evqueue.cluster.team import Team, node_config, team_members
from evqueue.process.ipc import parse_qid

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "multiuser" / \
    "evqueue.multiuser.conf"

HOLDER = """
import fcntl, os, signal, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
signal.pause()
"""


@pytest.fixture
def data(tmp_path) -> Path:
    """A data directory: three developers, the shared store's file, a hidden directory."""
    for name in ("carol", "alice", "bob", ".cache"):
        (tmp_path / name).mkdir()
    (tmp_path / "evqueue.db").write_text("")
    return tmp_path


def test_developers_are_the_visible_directories_in_byte_order(data):
    (data / "Zed").mkdir()
    assert team_members(str(data)) == ["Zed", "alice", "bob", "carol"]


def test_the_guide_configuration_is_used_as_is_for_data_and_copied_for_another_directory(data):
    assert node_config(str(SHIPPED), "/data") == str(SHIPPED)
    derived = Path(node_config(str(SHIPPED), str(data)))
    assert derived == data / ".evqueue.multiuser.conf"
    lines = derived.read_text().splitlines()
    for line in ("core.ipc.qid={data}/{login}", "core.wd={data}/{login}",
                 "processmanager.tasks.directory = {data}/{login}/evqueue-tasks",
                 "network.bind.path={data}/{login}/evqueue.socket", "ws.bind.port={port}",
                 "core.pidfile={data}/{login}/evqueue.pid", "cluster.node.name={login}",
                 "cluster.nodes={cluster}", "database.url = sqlite:///{data}/evqueue.db",
                 "forker.pidfile={data}/{login}/evqueue-forker.pid", 'network.bind.ip = ""'):
        assert line.replace("{data}", str(data)) in lines
    assert "/data/" not in derived.read_text().replace(str(data) + "/", "")


def test_each_developer_gets_a_port_a_socket_a_pidfile_and_an_ipc_queue(data):
    team = Team(str(data), str(SHIPPED), 7100)
    cluster = ",".join(f"unix://{data}/{n}/evqueue.socket" for n in ("alice", "bob", "carol"))
    assert [(m.login, m.port, m.environment) for m in team.members] == [
        (name, 7100 + rank, {"login": name, "port": str(7100 + rank), "cluster": cluster})
        for rank, name in enumerate(("alice", "bob", "carol"))]
    bob = team.members[1]
    assert bob.pidfile == f"{data}/bob/evqueue.pid"
    assert bob.socket == f"{data}/bob/evqueue.socket"
    assert bob.cfg.node_name == "bob" and bob.cfg["ws.bind.port"] == 7101
    assert bob.cfg["cluster.nodes"] == cluster
    assert bob.cfg["database.url"] == f"sqlite:///{data}/evqueue.db"
    assert bob.ipc_key == f"{parse_qid(str(data / 'bob')) & 0xFFFFFFFF:#010x}"
    assert len({m.ipc_key for m in team.members}) == 3


def test_a_node_runs_while_its_pidfile_is_locked_and_is_up_when_its_socket_answers(data):
    team = Team(str(data), str(SHIPPED), 7100)
    alice = team.members[0]
    assert (alice.pid(), alice.state()) == (None, "down")
    Path(alice.pidfile).write_text("999999\n")  # left by a crash: not locked
    assert alice.pid() is None
    fd = os.open(alice.pidfile, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    Path(alice.pidfile).write_text(f"{os.getpid()}\n")
    try:
        assert (alice.pid(), alice.state()) == (os.getpid(), "starting")
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(alice.socket)
            listener.listen()
            assert alice.state() == "up"
            line = team.status_line(alice)
    finally:
        os.close(fd)
    assert line == (f"alice  pid {os.getpid():<7}  unix://{alice.socket}  ws 7100  "
                    f"ipc {alice.ipc_key}  up")
    assert team.status_line(team.members[2]).endswith("  down")


def test_stop_signals_the_node_and_waits_until_it_is_gone(data):
    team = Team(str(data), str(SHIPPED), 7100)
    bob = team.members[1]
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, bob.pidfile],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert bob.pid() == holder.pid
        assert team.stop(bob) == (True, "bob stopped")
        assert holder.wait(10) != 0  # it died of SIGTERM
        assert team.stop(bob) == (True, "bob is not running")
    finally:
        holder.kill()
        holder.wait()


def test_a_node_that_cannot_start_says_why(data):
    config = data / "broken.conf"
    config.write_text(SHIPPED.read_text() + "\ncore.ipc.qid = /data/{login}/missing\n")
    team = Team(str(data), str(config), 7100)
    ok, message = team.start(team.members[0])
    assert not ok
    assert message.startswith("alice did not start: evqueue: core.ipc.qid")
    assert f"{data}/alice/missing" in message
