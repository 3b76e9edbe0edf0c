"""The asyncio client against a real node, over TCP and the unix socket."""

from __future__ import annotations

import asyncio

import pytest

from evqueue.client import AsyncClient, ConnectionClosed
from evqueue.protocol import AuthError, InsufficientRights, UnknownType
from tests.e2e.nodes import Node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("aio-client"), settings={
        "core.auth.enable": "yes"}).start()
    yield node
    node.stop()


@pytest.fixture(params=["tcp", "unix"])
def connect(request, node):
    if request.param == "tcp":
        return f"tcp://127.0.0.1:{node.api_port}"
    return f"unix://{node.socket_path}"


async def test_login_exec_and_close(connect):
    async with AsyncClient(connect, "admin", "admin") as client:
        assert client.node == "node1"
        replies = await asyncio.gather(*(client.exec("<ping/>") for _ in range(1)))
        assert replies[0].get("status") == "OK"
        with pytest.raises(UnknownType, match="Unknown type"):
            await client.exec("<status action='query' type='nosuch'/>")
        stats = await client.exec("<statistics action='query' type='global'/>")
        assert int(stats[0].get("current_api_connections")) >= 1


async def test_several_clients_at_once(connect):
    clients = [AsyncClient(connect, "admin", "admin") for _ in range(5)]
    await asyncio.gather(*(client.connect() for client in clients))
    try:
        replies = await asyncio.gather(*(client.exec("<ping/>") for client in clients))
        assert all(reply.get("status") == "OK" for reply in replies)
    finally:
        await asyncio.gather(*(client.close() for client in clients))


async def test_refusals(connect, node):
    with pytest.raises(AuthError):
        await AsyncClient(connect, "nobody", "x").connect()
    with pytest.raises(AuthError, match="requires authentication"):
        await AsyncClient(connect).connect()


async def test_user_profile_and_rights(connect, node):
    import sqlite3

    with sqlite3.connect(node.directory / "evqueue.db") as db:
        db.execute("INSERT OR IGNORE INTO t_user(user_login, user_password,"
                   " user_password_iterations, user_profile, user_preferences) VALUES"
                   " ('bob', '1a91d62f7ca67399625a4368a6ab5d4a3baa6073', 0, 'USER', '')")
    async with AsyncClient(connect, "bob", "pw") as client:
        assert client.profile == "USER"
        with pytest.raises(InsufficientRights):
            await client.exec("<control action='retry'/>")


async def test_quit_then_closed(connect):
    client = await AsyncClient(connect, "admin", "admin").connect()
    try:
        with pytest.raises(ConnectionClosed):
            await client.exec("<quit/>")
    finally:
        await client.close()
