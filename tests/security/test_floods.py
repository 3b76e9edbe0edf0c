"""Hostile clients against the listeners of a real node: slow logins, bursts, slow HTTP headers,
descriptors running out, large websocket frames before login.

Every attack is a bounded loop from this process to 127.0.0.1 or the node's unix socket, with
the node's limits made small through its configuration so that each runs in a few seconds.
"""

from __future__ import annotations

import base64
import os
import selectors
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.apiwire import Wire
from tests.e2e.nodes import Node, wait_for
from tests.reliability.kit import sample
from tests.reliability.test_limits import peak_rss

REFUSED = b"Max API connections reached"
TIMED_OUT = b"Timed out waiting for authentication"
MB = 1024 * 1024


class LimitedNode(Node):
    """A node whose process may open at most ``nofile`` descriptors (RLIMIT_NOFILE)."""

    def __init__(self, directory: Path, nofile: int, **kwargs: object) -> None:
        self.nofile = nofile
        super().__init__(directory, **kwargs)  # type: ignore[arg-type]

    def command(self, *extra: str) -> list[str]:
        limit = (f"import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, "
                 f"({self.nofile}, {self.nofile})); os.execv(sys.executable, "
                 f"[sys.executable, '-m', 'evqueue', *sys.argv[1:]])")
        return [sys.executable, "-c", limit, "--config", str(self.config_path), *extra]


@pytest.fixture
def nodes():
    """Start nodes with ``nodes(node)``; all stopped at the end."""
    started: list[Node] = []

    def start(node: Node) -> Node:
        started.append(node)
        return node.start()

    yield start
    for node in started:
        try:
            node.stop()
        finally:
            node.remove_ipc_queue()


def first_lines(socks: list[socket.socket], timeout: float) -> dict[socket.socket, bytes]:
    """The first line each socket receives within ``timeout`` seconds (``b""`` if it was
    closed first)."""
    selector = selectors.DefaultSelector()
    buffers = {}
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        buffers[sock] = b""
    lines: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + timeout
    while len(lines) < len(socks) and time.monotonic() < deadline:
        for key, _ in selector.select(0.05):
            sock = key.fileobj
            try:
                data = sock.recv(4096)  # type: ignore[union-attr]
            except (BlockingIOError, ConnectionResetError):
                data = b""
            buffers[sock] += data  # type: ignore[index]
            if not data or b"\n" in buffers[sock]:  # type: ignore[index]
                lines[sock] = buffers[sock].split(b"\n")[0]  # type: ignore[index]
                selector.unregister(sock)
    selector.close()
    return lines


def login_time(node: Node, transport: str) -> float:
    """Seconds an admin takes to log in (connect, challenge, greeting)."""
    start = time.monotonic()
    with Wire(node, transport, timeout=5) as wire:
        assert b"<ready" in wire.login()
    return time.monotonic() - start


# --- the XML API -----------------------------------------------------------------------------


def test_slow_logins_take_half_the_slots_and_an_admin_gets_in_over_the_unix_socket(
        tmp_path, nodes):
    node = nodes(Node(tmp_path, settings={
        "network.connections.max": "16", "network.login.timeout": "2",
        "network.rcv.timeout": "30"}))
    attackers = [socket.create_connection(("127.0.0.1", node.api_port)) for _ in range(16)]
    try:
        answers = first_lines(attackers, 5)
        held = [sock for sock, line in answers.items() if line.startswith(b"<auth challenge")]
        refused = [sock for sock, line in answers.items() if REFUSED in line]
        # Half of network.connections.max may wait to log in; the other half stays free.
        assert (len(held), len(refused)) == (8, 8)
        started = time.monotonic()
        for sock in held:
            sock.setblocking(True)
            sock.sendall(b"<auth user='")
        assert login_time(node, "unix") < 1
        assert login_time(node, "unix") < 1
        # One byte every 0.25 s keeps the idle timeout (30 s) away, not the login deadline.
        closed: dict[socket.socket, tuple[float, bytes]] = {}
        while len(closed) < len(held) and time.monotonic() - started < 8:
            for sock in held:
                if sock not in closed:
                    try:
                        sock.sendall(b"a")
                    except OSError:
                        closed[sock] = (time.monotonic() - started, b"")
            for sock, line in first_lines([s for s in held if s not in closed], 0.25).items():
                closed[sock] = (time.monotonic() - started, line)
        assert len(closed) == len(held)
        assert all(TIMED_OUT in line for _, line in closed.values()), closed.values()
        assert all(1.5 < when < 4 for when, _ in closed.values())
    finally:
        for sock in attackers:
            sock.close()


def test_tcp_leaves_the_unix_socket_its_reserve(tmp_path, nodes):
    node = nodes(Node(tmp_path, settings={"network.connections.max": "16"}))
    logged_in: list[Wire] = []
    try:
        for _ in range(14):  # 16 - 16 // 8
            wire = Wire(node, "tcp")
            logged_in.append(wire)
            assert b"<ready" in wire.login()
        with Wire(node, "tcp") as extra:
            assert REFUSED in extra.message()
        for _ in range(2):
            wire = Wire(node, "unix")
            logged_in.append(wire)
            assert b"<ready" in wire.login()
        with Wire(node, "unix") as extra:
            assert REFUSED in extra.message()
    finally:
        for wire in logged_in:
            wire.close()


def test_a_burst_of_500_connections_is_greeted_within_2_seconds(tmp_path, nodes):
    node = nodes(Node(tmp_path))  # the default limits
    for _ in range(2):
        burst = []
        start = time.monotonic()
        try:
            for _ in range(500):
                sock = socket.socket()
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", node.api_port))
                burst.append(sock)
            answers = first_lines(burst, 2 - (time.monotonic() - start))
            assert len(answers) == 500, f"{500 - len(answers)} connections got nothing in 2 s"
            challenges = sum(line.startswith(b"<auth challenge") for line in answers.values())
            # half of network.connections.max (1,024 by default) may be waiting to log in
            assert challenges == 500
        finally:
            for sock in burst:
                sock.close()
        assert wait_for(lambda: node.accepts(), 5)
    assert login_time(node, "tcp") < 1


# --- the websocket/HTTP port -----------------------------------------------------------------


def test_slow_http_headers_are_capped_and_cut_while_the_api_serves(tmp_path, nodes):
    node = nodes(LimitedNode(tmp_path, 64, settings={
        "ws.connections.max": "8", "ws.http.connections.max": "8", "ws.http.timeout": "2"}))
    attackers: list[socket.socket] = []
    try:
        start = time.monotonic()
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", node.ws_port))
            attackers.append(sock)
            try:
                sock.sendall(b"GET / HTTP/1.1\r\n")
            except OSError:
                pass  # closed at accept: the port is full
        assert login_time(node, "tcp") < 1
        assert login_time(node, "unix") < 1
        # One header line every 0.5 s: the connections still open are the port's 16, and even
        # they are closed once ws.http.timeout has passed.
        open_ones = attackers
        for step in range(12):
            for sock in open_ones:
                try:
                    sock.sendall(b"X-Slow: %d\r\n" % step)
                except OSError:
                    pass
            time.sleep(0.5)
            open_ones = [sock for sock in open_ones if not _closed_by_peer(sock)]
            if step == 1:
                assert len(open_ones) <= 16
        assert open_ones == [], f"{len(open_ones)} slow connections still open"
        assert time.monotonic() - start < 8
        assert login_time(node, "tcp") < 1
        with socket.create_connection(("127.0.0.1", node.ws_port), timeout=5) as probe:
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert probe.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for sock in attackers:
            sock.close()
    output = node.output()
    assert "Traceback" not in output
    assert output.count("Too many open files") <= 1


def test_descriptors_running_out_are_logged_once_a_second_and_the_api_recovers(
        tmp_path, nodes):
    # A port cap above what the node may open: accept() itself fails with EMFILE.
    node = nodes(LimitedNode(tmp_path, 64, settings={
        "ws.http.connections.max": "1000", "ws.http.timeout": "2"}))
    attackers: list[socket.socket] = []
    start = time.monotonic()
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", node.ws_port))
            sock.sendall(b"GET / HTTP/1.1\r\n")
            attackers.append(sock)
        assert wait_for(lambda: "Too many open files" in node.output(), 5)
        # A login now waits in the unix socket's backlog while its listener rests.
        waiting = Wire(node, "unix", timeout=10)
        time.sleep(2)
    finally:
        for sock in attackers:
            sock.close()
    with waiting:
        assert b"<ready" in waiting.login()
    # a listener may still be resting (0.1 s) from the last failed accept()
    assert login_time(node, "tcp") < 2
    output = node.output()
    elapsed = time.monotonic() - start
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "Too many open files" in line]
    assert 1 <= len(lines) <= elapsed + 1, "\n".join(lines)


def _closed_by_peer(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


# --- websockets before login -----------------------------------------------------------------


def test_large_websocket_frames_before_login_are_refused_from_their_header(tmp_path, nodes):
    node = nodes(Node(tmp_path))
    assert node.process is not None
    pid = node.process.pid
    before = sample(pid).rss_kb
    socks = [_websocket(node) for _ in range(10)]
    codes: list[int | None] = []

    def attack(sock: socket.socket) -> None:
        """One frame announcing 15 MB, sent whole unless the node cuts the connection."""
        size = 15 * MB
        head = b'<auth user="admin" response="'
        try:
            sock.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, size) + b"\0\0\0\0" + head)
            for _ in range((size - len(head)) // MB):
                sock.sendall(b"a" * MB)
        except OSError:
            pass
        codes.append(_close_code(sock))

    threads = [threading.Thread(target=attack, args=(sock,)) for sock in socks]
    try:
        with peak_rss(pid) as peak:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
    finally:
        for sock in socks:
            sock.close()
    after = sample(pid).rss_kb
    print(f"10 x 15 MB before login: RSS {before // 1024} MB, peak {peak.highest // 1024} MB, "
          f"after {after // 1024} MB; close codes {codes}")
    assert len(codes) == 10 and set(codes) <= {1009, None} and 1009 in codes, codes
    assert peak.growth_mb < 100 and (after - before) / 1024 < 100
    assert "a first message of 15728640 bytes before login (limit 4096)" in node.output()


def _websocket(node: Node) -> socket.socket:
    """A websocket (subprotocol api) whose challenge has been read."""
    sock = socket.create_connection(("127.0.0.1", node.ws_port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: api\r\n\r\n").encode())
    received = b""
    while b"\r\n\r\n" not in received:
        received += sock.recv(4096)
    answer, frames = received.split(b"\r\n\r\n", 1)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    while len(frames) < 2 or len(frames) < 2 + (frames[1] & 0x7F):  # the challenge
        frames += sock.recv(4096)
    assert b"challenge=" in frames
    return sock


def _close_code(sock: socket.socket) -> int | None:
    """The code of the close frame the node sent, None if the connection was reset first."""
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except OSError:
        pass
    if len(data) >= 4 and data[0] == 0x88:
        return int.from_bytes(data[2:4], "big")
    return None
