"""Connection limits of a real node: connections.max, the idle timeout, the unix socket mode."""

from __future__ import annotations

import os
import socket
import stat
import time

import pytest
from lxml import etree

from tests.e2e.apiwire import Wire, answer, shape
from tests.e2e.nodes import Node, wait_for

IDLE = ('<response error="Error reading socket, recv() returned error 11"'
        ' error-code="UNEXPECTED_EXCEPTION" node="node1" status="KO"/>')


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("limits"), settings={
        "network.connections.max": "3",
        "network.rcv.timeout": "1",
        "network.bind.path.mode": "0600",
    }).start()
    yield node
    node.stop()


def test_unix_socket_has_the_configured_mode(node):
    info = os.stat(node.socket_path)
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600


def test_one_connection_too_many_is_refused_and_others_are_served(node):
    clients: list[Wire] = []
    try:
        challenges = [_hold(node, transport, clients) for transport in ("tcp", "unix", "tcp")]
        with Wire(node) as extra:
            assert shape(extra.message()) == shape(
                '<response error="Max API connections reached" error-code="UNEXPECTED_EXCEPTION"'
                ' node="node1" status="KO"/>')
            assert extra.closed()
        for client, challenge in zip(clients, challenges, strict=True):
            client.send(f"<auth response='{answer(challenge, 'admin')}' user='admin'/>")
            assert b"<ready" in client.message()
            client.send("<ping/>")
            assert b'status="OK"' in client.message()
        clients[0].close()
        # the slot is free again as soon as the node sees the close
        assert wait_for(lambda: _accepted(node), 5)
    finally:
        for client in clients:
            client.close()


def _hold(node: Node, transport: str, held: list[Wire]) -> str:
    """Open a connection that gets the challenge (waiting for the node to see earlier closes);
    returns the challenge."""
    deadline = time.monotonic() + 5
    while True:
        wire = Wire(node, transport)
        message = etree.fromstring(wire.message())
        if message.tag == "auth":
            held.append(wire)
            return message.get("challenge", "")
        wire.close()
        assert time.monotonic() < deadline, "the node kept refusing connections"
        time.sleep(0.05)


def _accepted(node: Node) -> bool:
    """A new connection gets the challenge (not the refusal)."""
    with Wire(node) as probe:
        return b"<auth" in probe.message()


def test_idle_connection_is_told_and_closed(node):
    assert wait_for(lambda: _accepted(node), 5)
    with Wire(node) as before_login, Wire(node, "unix") as after_login:
        after_login.login()
        before_login.challenge()
        start = time.monotonic()
        assert shape(before_login.message()) == shape(IDLE)
        assert shape(after_login.message()) == shape(IDLE)
        assert 0.8 < time.monotonic() - start < 3
        assert before_login.closed() and after_login.closed()


def test_a_busy_connection_is_not_idle(node):
    assert wait_for(lambda: _accepted(node), 5)
    with Wire(node) as wire:
        wire.login()
        for _ in range(3):
            time.sleep(0.4)
            wire.send("<ping/>\n")
            assert b'status="OK"' in wire.message()


def test_port_in_use_is_a_start_up_error_naming_the_key(tmp_path):
    node = Node(tmp_path / "busy")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", node.api_port))
        taken.listen()
        result = node.run("--daemon")
    assert result.returncode == 1
    assert result.stderr == (f"evqueue: network.bind.port: port {node.api_port} is already in"
                             " use on 127.0.0.1\n")
    assert node.pid() is None


def test_control_shutdown_answers_then_the_node_stops(tmp_path):
    node = Node(tmp_path / "shutdown").start()
    try:
        with Wire(node, "unix") as wire:
            wire.login()
            wire.send("<control action='shutdown'/>\n")
            assert shape(wire.message()) == shape('<response node="node1" status="OK"/>')
            assert wire.closed()
        assert node.process is not None and node.process.wait(20) == 0
        assert not os.path.exists(node.socket_path), "the unix socket is removed on exit"
    finally:
        node.stop()
