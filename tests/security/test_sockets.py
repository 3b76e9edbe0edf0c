"""Who can reach a node's sockets: unix socket owner, group and mode; websocket Origin and TLS.

Everything runs against real nodes. Access to the unix socket is tried from processes running
as other users (the suite runs as root, which the kernel would let through anyway), so the
test shows what the permissions actually allow.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile

import aiohttp
import pytest

from tests.e2e.apiwire import answer
from tests.e2e.nodes import Node


def connect_as(path: str, user: str, group: str) -> int:
    """Try to connect to the unix socket ``path`` as ``user``:``group``; 0 or the errno."""
    pid = os.fork()
    if pid == 0:  # the child drops every privilege, tries, and reports through its exit code
        code = 0
        try:
            os.setgroups([])
            os.setgid(grp.getgrnam(group).gr_gid)
            os.setuid(pwd.getpwnam(user).pw_uid)
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(path)
        except OSError as error:
            code = error.errno or 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture(scope="module")
def grouped(tmp_path_factory):
    """A node whose socket belongs to nobody:nogroup, mode 0660, in a directory anyone may
    cross (the test's own temporary directories are private to root)."""
    socket_dir = tempfile.mkdtemp(prefix="evq-sock-")
    os.chmod(socket_dir, 0o711)
    node = Node(tmp_path_factory.mktemp("unix"), settings={
        "network.bind.path": os.path.join(socket_dir, "api.sock"),
        "network.bind.path.owner": "nobody", "network.bind.path.group": "nogroup",
        "network.bind.path.mode": "0660"}).start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_unix_socket_has_the_configured_owner_group_and_mode(grouped):
    info = os.stat(grouped.socket_path)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o660
    assert (info.st_uid, info.st_gid) == (pwd.getpwnam("nobody").pw_uid,
                                          grp.getgrnam("nogroup").gr_gid)
    assert "uid 65534, gid 65534" in grouped.output()


def test_only_the_owner_and_group_may_connect(grouped):
    assert connect_as(grouped.socket_path, "daemon", "nogroup") == 0  # by the group
    assert connect_as(grouped.socket_path, "nobody", "daemon") == 0  # by the owner
    assert connect_as(grouped.socket_path, "daemon", "daemon") == 13  # EACCES


def test_an_unknown_owner_stops_the_start_naming_the_key(tmp_path):
    node = Node(tmp_path / "bad", settings={"network.bind.path.group": "no-such-group"})
    result = node.run("--daemon")
    assert result.returncode != 0
    assert "network.bind.path.group" in result.stderr and "no-such-group" in result.stderr
    assert node.pid() is None


# --- websockets: Origin and TLS --------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A node serving websockets over TLS (a self-signed certificate) with an Origin list."""
    directory = tmp_path_factory.mktemp("tls")
    crt, key = directory / "node.crt", directory / "node.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    node = Node(directory, settings={"ws.ssl.crt": str(crt), "ws.ssl.key": str(key),
                                     "ws.origins": "https://console.example"}).start()
    try:
        yield node, ssl.create_default_context(cafile=str(crt))
    finally:
        node.stop()
        node.remove_ipc_queue()


async def _login(ws: aiohttp.ClientWebSocketResponse) -> str:
    challenge = (await ws.receive_str()).split('challenge="')[1].split('"')[0]
    await ws.send_str(f"<auth response='{answer(challenge, 'admin')}' user='admin'/>")
    return await ws.receive_str()


async def test_websockets_are_served_over_tls_and_log_in(tls):
    node, context = tls
    async with aiohttp.ClientSession() as session:
        async with session.get(f"https://127.0.0.1:{node.ws_port}/healthz", ssl=context) as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
        async with session.ws_connect(f"wss://127.0.0.1:{node.ws_port}/", protocols=("api",),
                                      ssl=context, origin="https://console.example") as ws:
            assert 'profile="ADMIN"' in await _login(ws)
            await ws.send_str("<ping/>")
            assert 'status="OK"' in await ws.receive_str()


def test_plain_text_is_not_answered_on_the_tls_port(tls):
    node, _ = tls
    with socket.create_connection(("127.0.0.1", node.ws_port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = b""
        try:
            while chunk := sock.recv(4096):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    assert b"200 OK" not in reply and b'"status"' not in reply


@pytest.mark.parametrize(("origin", "allowed"), [
    ("https://console.example", True),
    (None, True),  # not a browser
    ("same-host", True),  # the UI this node serves itself
    ("https://evil.example", False),
    ("https://console.example.evil.example", False),
    ("null", False),  # sandboxed frames and file:// pages
])
async def test_browsers_from_other_origins_are_refused(tls, origin, allowed):
    node, context = tls
    if origin == "same-host":
        origin = f"https://127.0.0.1:{node.ws_port}"
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(f"wss://127.0.0.1:{node.ws_port}/",
                                          protocols=("api",), ssl=context,
                                          origin=origin) as ws:
                assert "challenge=" in await ws.receive_str()
                refused = None
        except aiohttp.WSServerHandshakeError as error:
            refused = error.status
    assert refused == (None if allowed else 403)


async def test_a_large_frame_before_login_is_refused_from_its_header(tls):
    node, context = tls
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"wss://127.0.0.1:{node.ws_port}/", protocols=("api",), ssl=context) as ws:
        assert "challenge=" in await ws.receive_str()
        await ws.send_str("<auth user='admin' response='" + "0" * 8192 + "'/>")
        closing = await ws.receive()
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert (closing.data, closing.extra) == (
        1009, "Message too big before login (limit is 4096 bytes)")
