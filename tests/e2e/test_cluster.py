"""Real nodes on one store: change notification, and one running node per name."""

from __future__ import annotations

import signal
import time

import pytest

from evqueue.client.sync import Client
from tests.e2e.nodes import wait_for

pytestmark = pytest.mark.backends


def queues_of(client: Client) -> set[str]:
    return {q.get("name") for q in client.exec("<statistics action='query' type='queue'/>")[0]}


def test_a_change_reloads_the_other_nodes_and_a_dead_node_never_blocks_it(
        make_node, db_url, tmp_path):
    dead = tmp_path / "dead.sock"
    nodes = ", ".join(f"unix://{tmp_path / name / 'evqueue.socket'}" for name in ("a", "b"))
    settings = {"cluster.nodes": f"{nodes}, unix://{dead}", "cluster.notify.user": "admin",
                "cluster.notify.password": "admin"}
    first = make_node("a", db_url=db_url, settings=settings).start()
    second = make_node("b", db_url=db_url, settings=settings).start()
    with Client(f"unix://{first.socket_path}", "admin", "admin") as client:
        began = time.monotonic()
        client.exec("<queue action='create' name='shared' concurrency='1' scheduler='fifo' "
                    "dynamic='no'/>")
        answered = time.monotonic() - began
        assert "shared" in queues_of(client), "the node that made the change reloads at once"
    with Client(f"unix://{second.socket_path}", "admin", "admin") as client:
        assert wait_for(lambda: "shared" in queues_of(client), 30)
    assert answered < 5, "an unreachable node does not hold the change up"
    assert wait_for(lambda: f"cannot notify node unix://{dead}" in first.output(), 30)
    assert "reloading module queuepool (cluster notification)" in second.output()
    assert "reloading module queuepool (cluster notification)" not in first.output(), \
        "a node does not notify itself"


def test_one_running_node_per_name_and_a_crashed_node_restarts_at_once(make_node, db_url):
    node = make_node("a", db_url=db_url).start()
    twin = make_node("twin", db_url=db_url, settings={"cluster.node.name": "a"})
    refused = twin.run("--daemon")
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "evqueue: cluster.node.name 'a' is already used by a running node "
        f"(API unix://{node.socket_path}, started ")
    assert twin.pid() is None
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        assert [n.get("name") for n in client.exec("<cluster action='list'/>")] == ["a"]
    node.stop(signal.SIGKILL)  # a crash: its registry entry is still fresh
    node.start()
    assert "taking over the registry entry of node a" in node.output()
    assert node.stop() == 0
