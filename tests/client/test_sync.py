"""The blocking client against a real node, over TCP and the unix socket."""

from __future__ import annotations

import socket

import pytest

from evqueue.client import Client, ConnectionClosed
from evqueue.protocol import AuthError, Command, InvalidConnectionString, UnknownCommand
from tests.e2e.nodes import Node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("sync-client")).start()
    yield node
    node.stop()


@pytest.fixture(params=["tcp", "unix"])
def connect(request, node):
    if request.param == "tcp":
        return f"tcp://127.0.0.1:{node.api_port}"
    return f"unix://{node.socket_path}"


def test_login_exec_and_quit(connect):
    with Client(connect, "admin", "admin") as client:
        assert (client.node, client.profile) == ("node1", "ADMIN")
        reply = client.exec("<ping/>")
        assert (reply.tag, reply.get("status"), reply.get("version")) == ("response", "OK", "3.3")
        status = client.exec(Command.build("status", {"action": "query",
                                                       "type": "configuration"}))
        assert status.find("configuration/entry[@name='cluster.node.name']").get("value") == (
            "node1")


def test_ko_raises_the_typed_error_and_the_connection_goes_on(connect):
    with Client(connect, "admin", "admin") as client:
        with pytest.raises(UnknownCommand) as caught:
            client.exec("<nosuch/>")
        assert caught.value.code == "UNKNOWN_COMMAND"
        assert client.exec("<ping/>").get("status") == "OK"


def test_wrong_password_is_an_auth_error(connect):
    with pytest.raises(AuthError, match="Invalid authentication"):
        Client(connect, "admin", "nope").connect()


def test_password_hash_works_like_the_password(connect):
    with Client(connect, "admin", password_hash="d033e22ae348aeb5660fc2140aec35850c4da997") as c:
        assert c.profile == "ADMIN"


def test_fatal_error_then_closed(connect):
    client = Client(connect, "admin", "admin").connect()
    try:
        with pytest.raises(Exception, match="Invalid query XML structure"):
            client.exec("hello world")
        with pytest.raises((ConnectionClosed, OSError)):
            client.exec("<ping/>")
    finally:
        client.close()


def test_timeout_when_the_server_says_nothing():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(TimeoutError):
            Client(f"tcp://127.0.0.1:{port}", timeout=0.2).connect()


def test_bad_connection_strings():
    with pytest.raises(InvalidConnectionString, match="Invalid connection string format"):
        Client("http://x")
    with pytest.raises(InvalidConnectionString, match="Missing hostname"):
        Client("tcp://:5000")


def test_refused_connection(tmp_path):
    with pytest.raises(OSError):
        Client(f"unix://{tmp_path / 'none.sock'}").connect()
