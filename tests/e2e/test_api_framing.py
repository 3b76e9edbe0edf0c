"""Framing over real sockets: how requests may be cut, joined, decorated or broken.

Each case is answered (or refused with one KO response and a close), and a second client,
logged in all along, keeps being served.
"""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e.apiwire import Wire, shape
from tests.e2e.nodes import Node

MAX_SIZE = 64 * 1024


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("framing"),
                settings={"network.message.maxsize": "64K"}).start()
    yield node
    node.stop()


@pytest.fixture
def bystander(node):
    """A logged-in client that must not notice anything."""
    with Wire(node, "unix") as wire:
        wire.login()
        yield wire
        wire.send("<ping a='bystander'/>\n")
        assert b'status="OK"' in wire.message()


@pytest.fixture
def client(node, bystander):
    with Wire(node) as wire:
        wire.login()
        yield wire


def ping_ok(message: bytes) -> bool:
    return shape(message)[0] == "response" and shape(message)[1]["status"] == "OK"


def test_request_split_byte_by_byte(client):
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for byte in b"<ping a='1'/>\n":
        client.send(bytes([byte]))
        time.sleep(0.002)
    assert ping_ok(client.message())


def test_pipelined_requests_are_all_answered_in_order(client):
    client.send("<ping a='1'/>\n<status/>\n<ping a='2'/>\n<datastore action='get' id='x'/>")
    replies = [shape(client.message())[1] for _ in range(4)]
    assert [r["status"] for r in replies] == ["OK", "KO", "OK", "KO"]
    assert [r.get("error-code") for r in replies] == [None, "MISSING_PARAMETER", None,
                                                       "INVALID_INTEGER"]


def test_seven_byte_ping_is_answered_without_more_bytes(client):
    client.send(b"<ping/>")
    client.sock.settimeout(2)
    assert ping_ok(client.message())


def test_xml_declaration_and_blank_lines_are_accepted(client):
    client.send(b'<?xml version="1.0" encoding="utf-8"?>\n<ping/>\n\n')
    assert ping_ok(client.message())
    client.send(b"<?xml version='1.0'?><ping/>\n")
    assert ping_ok(client.message())


def test_text_is_refused_and_closes(client):
    client.send(b"hello world\n")
    assert shape(client.message())[1]["error"] == (
        "Invalid query XML structure : invalid document structure")
    assert client.closed()


def test_oversized_message_is_refused_and_closes(client):
    client.send(b"<ping a='" + b"x" * MAX_SIZE + b"'/>\n")
    reply = shape(client.message())[1]
    assert (reply["status"], reply["error-code"]) == ("KO", "UNEXPECTED_EXCEPTION")
    assert reply["error"] == f"Message too large (limit is {MAX_SIZE} bytes)"
    assert client.closed()


def test_messages_before_login_are_kept_small(node, bystander):
    with Wire(node) as wire:
        wire.challenge()
        wire.send(b"<auth response='" + b"0" * 5000 + b"' user='admin'/>")
        assert shape(wire.message())[1]["error"] == "Message too large (limit is 4096 bytes)"
        assert wire.closed()


def test_message_of_exactly_the_limit_is_accepted(client):
    head, tail = b"<ping a='", b"'/>"
    client.send(head + b"x" * (MAX_SIZE - len(head) - len(tail)) + tail)
    assert ping_ok(client.message())


def test_disconnect_mid_message_is_answered_on_a_half_close(client):
    client.send(b"<ping a='")
    client.sock.shutdown(socket.SHUT_WR)
    assert shape(client.message())[1]["error"] == (
        "Invalid query XML structure : unexpected end of data")
    assert client.closed()


def test_abrupt_disconnect_mid_message(node, bystander):
    wire = Wire(node)
    wire.login()
    wire.send(b"<status action='query' type='config")
    wire.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    wire.close()  # RST


def test_disconnect_during_login(node, bystander):
    wire = Wire(node)
    wire.challenge()
    wire.send(b"<auth response=")
    wire.close()
