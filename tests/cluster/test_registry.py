"""This node's row in the node registry: join, refusal of a running namesake, heartbeats."""

from __future__ import annotations

import asyncio
import datetime
import socket
from dataclasses import dataclass

import pytest

from evqueue.cluster.registry import (
    NodeNameInUse,
    NodeRegistry,
    api_connection_string,
    ws_url,
)
from evqueue.config import Config
from evqueue.storage.cluster import list_nodes, register_node, unregister_node
from evqueue.storage.timeutil import local_now
from tests.cluster.fakepeer import fake_peer


def config(tmp_path, name: str = "alice", **extra: str) -> Config:
    return Config.from_mapping({"cluster.node.name": name,
                                "network.bind.path": str(tmp_path / f"{name}.sock"),
                                "ws.bind.port": "5100", "cluster.rcv.timeout": "1", **extra})


@dataclass
class Listeners:
    unix_path: str | None = None
    tcp_address: tuple[str, int] | None = None
    url: str | None = None


async def rows(db) -> dict[str, tuple[str, str, str]]:
    return {r.name: (r.api_url, r.ws_url, r.version) for r in await list_nodes(db)}


async def test_join_registers_the_node_and_leave_removes_it(db, tmp_path):
    registry = NodeRegistry(db, config(tmp_path), version="3.3")
    await registry.join()
    try:
        assert await rows(db) == {"alice": (f"unix://{tmp_path}/alice.sock",
                                            "ws://127.0.0.1:5100/", "3.3")}
        [row] = await list_nodes(db)
        assert row.started_at == registry.started
    finally:
        await registry.leave()
    assert await rows(db) == {}


async def test_publish_records_the_bound_addresses(db, tmp_path):
    cfg = config(tmp_path, **{"network.bind.path": "", "ws.bind.port": "0"})
    registry = NodeRegistry(db, cfg)
    await registry.join()
    try:
        assert (await rows(db))["alice"][:2] == ("tcp://127.0.0.1:5000", "ws://127.0.0.1:0/")
        await registry.publish(Listeners(tcp_address=("127.0.0.1", 41234)),
                               Listeners(url="ws://127.0.0.1:45678/"))
        assert (await rows(db))["alice"][:2] == ("tcp://127.0.0.1:41234",
                                                 "ws://127.0.0.1:45678/")
    finally:
        await registry.leave()


async def test_heartbeats_keep_the_row_and_bring_it_back_if_deleted(db, tmp_path):
    registry = NodeRegistry(db, config(tmp_path), interval=0.05)
    await registry.join()
    try:
        await asyncio.wait_for(registry.beat.wait(), 10)
        await unregister_node(db, "alice")  # an operator cleaned the table
        await asyncio.wait_for(registry.beat.wait(), 10)
        assert "alice" in await rows(db)
        [row] = await list_nodes(db, max_age=15)
        assert row.heartbeat >= registry.started
    finally:
        await registry.leave()


async def test_a_running_node_of_the_same_name_stops_start_up(db, tmp_path):
    other = str(tmp_path / "other.sock")
    await register_node(db, "alice", f"unix://{other}", "ws://h:1/", "3.3")
    async with fake_peer(other, "alice"):
        registry = NodeRegistry(db, config(tmp_path))
        with pytest.raises(NodeNameInUse) as refused:
            await registry.join()
    message = str(refused.value)
    assert message.startswith("cluster.node.name 'alice' is already used by a running node "
                              f"(API unix://{other}, started ")
    assert await rows(db) == {"alice": (f"unix://{other}", "ws://h:1/", "3.3")}, "untouched"


async def test_a_node_that_cannot_be_proved_dead_counts_as_running(db, tmp_path):
    silent_path = str(tmp_path / "silent.sock")
    silent = await asyncio.start_unix_server(lambda r, w: None, path=silent_path)
    await register_node(db, "alice", f"unix://{silent_path}", "", "3.3")
    with pytest.raises(NodeNameInUse):
        await NodeRegistry(db, config(tmp_path)).join()
    silent.close()


async def test_the_entry_of_a_crashed_node_is_taken_over_at_once(db, tmp_path, caplog):
    # the previous run of this node was killed: fresh heartbeat, nobody at its socket
    caplog.set_level(25, "evqueue.cluster")
    await register_node(db, "alice", f"unix://{tmp_path}/alice.sock", "", "3.3")
    registry = NodeRegistry(db, config(tmp_path))
    await registry.join()
    await registry.leave()
    assert "taking over the registry entry of node alice" in caplog.text


async def test_an_address_now_answering_with_another_name_or_an_old_heartbeat_is_stale(
        db, tmp_path):
    reused = str(tmp_path / "reused.sock")
    await register_node(db, "alice", f"unix://{reused}", "", "3.3")
    await register_node(db, "bob", f"unix://{reused}", "", "3.3",
                        now=local_now() - datetime.timedelta(seconds=60))
    async with fake_peer(reused, "carol"):
        for name in ("alice", "bob"):
            registry = NodeRegistry(db, config(tmp_path, name))
            await registry.join()
            await registry.leave()


async def test_other_names_coexist_and_bad_names_are_refused(db, tmp_path):
    first = NodeRegistry(db, config(tmp_path, "alice"))
    second = NodeRegistry(db, config(tmp_path, "bob"))
    await first.join()
    await second.join()
    assert set(await rows(db)) == {"alice", "bob"}
    await first.leave()
    await second.leave()
    for name in ("", "x" * 33):
        with pytest.raises(ValueError, match="must be 1 to 32 characters"):
            await NodeRegistry(db, config(tmp_path, name)).join()


def test_connection_strings_of_a_node():
    cfg = Config.from_mapping({"network.bind.ip": "*", "network.bind.port": "5000",
                               "ws.bind.ip": "*", "ws.bind.port": "5001"})
    assert api_connection_string(cfg) == f"tcp://{socket.getfqdn()}:5000"
    assert ws_url(cfg) == "ws://0.0.0.0:5001/"
    off = Config.from_mapping({"network.bind.ip": "", "ws.bind.ip": ""})
    assert (api_connection_string(off), ws_url(off)) == ("", "")
    assert api_connection_string(off, Listeners(unix_path="/s")) == "unix:///s"
    assert api_connection_string(off, Listeners(tcp_address=("::1", 7))) == "tcp://[::1]:7"
