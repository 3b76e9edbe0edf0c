"""Connection strings: evQueue's formats and messages (protocol.md §1.6)."""

from __future__ import annotations

import dataclasses

import pytest

from evqueue.errors import InvalidConnectionString
from evqueue.protocol.connstr import (
    DEFAULT_PORT,
    TcpAddress,
    UnixAddress,
    parse_connection_string,
    split_connection_strings,
)

MISSING_HOST = "Missing hostname, expected format : tcp://<hostname>[:<port>]"
MISSING_PATH = "Missing path, expected format : unix://<path>"
BAD_FORMAT = (
    "Invalid connection string format. Expected : tcp://<hostname>[:<port>] or unix://<path>"
)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("tcp://localhost", TcpAddress("localhost", 5000)),
        ("tcp://localhost:5000", TcpAddress("localhost", 5000)),
        ("tcp://10.0.0.2:6001", TcpAddress("10.0.0.2", 6001)),
        ("tcp://[::1]:5001", TcpAddress("::1", 5001)),
        ("tcp://[::1]", TcpAddress("::1", 5000)),
        ("unix:///run/evqueue/evqueue.socket", UnixAddress("/run/evqueue/evqueue.socket")),
        ("unix://relative.sock", UnixAddress("relative.sock")),
        (" tcp://b:5000", TcpAddress("b", 5000)),  # evQueue fails on this (no trimming)
        ("\ttcp://b:5000 \n", TcpAddress("b", 5000)),
    ],
)
def test_valid(text: str, address: TcpAddress | UnixAddress) -> None:
    assert parse_connection_string(text) == address
    assert DEFAULT_PORT == 5000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tcp://", MISSING_HOST),
        ("tcp://:5000", MISSING_HOST),
        ("tcp://[]:5000", MISSING_HOST),
        ("tcp://host:abc", "Invalid port number"),
        ("tcp://host:", "Invalid port number"),
        ("tcp://host:50x", "Invalid port number"),
        ("tcp://host:0", "Invalid port number"),
        ("tcp://host:65536", "Invalid port number"),
        ("tcp://host:-1", "Invalid port number"),
        ("tcp://host:٥٠٠٠", "Invalid port number"),
        ("tcp://[::1", BAD_FORMAT),
        ("tcp://[::1]x", BAD_FORMAT),
        ("unix://", MISSING_PATH),
        ("unix://" + "a" * 108, "Unix socket path is too long"),
        ("unix://" + "é" * 54, "Unix socket path is too long"),  # 108 bytes in UTF-8
        ("http://localhost:5000", BAD_FORMAT),
        ("TCP://localhost", BAD_FORMAT),
        ("localhost:5000", BAD_FORMAT),
        ("", BAD_FORMAT),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidConnectionString) as caught:
        parse_connection_string(text)
    assert caught.value.message == message
    assert caught.value.code is None


def test_longest_unix_path() -> None:
    assert parse_connection_string("unix://" + "a" * 107) == UnixAddress("a" * 107)


def test_str_round_trip() -> None:
    for text in ("tcp://node1:5000", "tcp://[::1]:5001", "unix:///tmp/evqueue.sock"):
        address = parse_connection_string(text)
        assert str(address) == text
        assert parse_connection_string(str(address)) == address
    assert str(parse_connection_string("tcp://node1")) == "tcp://node1:5000"


def test_addresses_are_frozen_and_checked() -> None:
    address = TcpAddress("h")
    with pytest.raises(dataclasses.FrozenInstanceError):
        address.port = 1  # type: ignore[misc]
    with pytest.raises(InvalidConnectionString):
        TcpAddress("h", 70000)
    with pytest.raises(InvalidConnectionString):
        UnixAddress("")


def test_cluster_nodes_list_is_trimmed() -> None:
    # The documented cluster.nodes example, which evQueue splits without trimming.
    assert split_connection_strings("tcp://a:5000, tcp://b:5000") == [
        "tcp://a:5000",
        "tcp://b:5000",
    ]
    assert split_connection_strings(" , tcp://a ,,unix:///s ,") == ["tcp://a", "unix:///s"]
    assert split_connection_strings("") == []
