"""The guard of the websocket/HTTP port, on a real server: the connection cap, the request
deadline, and the first websocket message before login, refused from its frame header."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest

from tests.server.ws_support import attrs, base_url, connect, receive_close, receive_text, serve

TOO_BIG = (1009, "Message too big before login (limit is 4096 bytes)")


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def auth_frame(size: int) -> str:
    """An ``<auth>`` message of exactly ``size`` bytes (a wrong response, padded)."""
    head, tail = "<auth user='admin' response='" + "0" * 40 + "'", "/>"
    return head + " " * (size - len(head) - len(tail)) + tail


async def read_until_closed(reader: asyncio.StreamReader, limit: float = 10.0) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    async with asyncio.timeout(limit):
        try:
            while chunk := await reader.read(4096):
                data += chunk
        except ConnectionResetError:
            pass
    return data


# --- the first message before login ----------------------------------------------------------


@pytest.mark.parametrize(("size", "closing"), [
    (4096, (1011, "Invalid authentication")),  # read and checked
    (4097, TOO_BIG),
    (8 * 1024 * 1024, TOO_BIG),
])
async def test_a_first_message_over_4_kb_is_refused_from_its_header(db, client, size,
                                                                    closing) -> None:
    async with serve(db) as server:
        ws = await connect(client, server, authenticate=False)
        await receive_text(ws)  # the challenge
        await ws.send_str(auth_frame(size))
        assert await receive_close(ws) == closing


async def test_after_login_messages_up_to_the_maximum_size_pass(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server)
        await ws.send_str("<ping pad='" + "x" * (1024 * 1024) + "'/>")
        assert attrs(await receive_text(ws))["status"] == "OK"


async def test_without_authentication_there_is_no_login_limit(db, client) -> None:
    async with serve(db, {"core.auth.enable": "no"}) as server:
        ws = await connect(client, server, authenticate=False)
        await receive_text(ws)  # the greeting
        await ws.send_str("<ping pad='" + "x" * 8192 + "'/>")
        assert attrs(await receive_text(ws))["status"] == "OK"


async def test_frames_sent_before_the_handshake_is_answered_refuse_the_upgrade(db) -> None:
    async with serve(db) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                     f"Sec-WebSocket-Protocol: api\r\n\r\n".encode()
                     + b"\x81\xff" + (2**40).to_bytes(8, "big") + b"\0\0\0\0")
        answer = await reader.readline()
        writer.close()
    assert answer.startswith(b"HTTP/1.1 400"), answer


# --- every connection of the port ------------------------------------------------------------


async def test_connections_past_the_cap_are_closed_at_accept(db, client) -> None:
    settings = {"ws.connections.max": "1", "ws.http.connections.max": "1"}
    async with serve(db, settings) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await read_until_closed(reader) == b""  # closed unanswered
        writer.close()
        for _, held_writer in held:
            held_writer.close()
        for _ in range(100):  # the slots free as the server sees the closes
            try:
                async with client.get(base_url(server) + "/healthz") as response:
                    assert response.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the port stayed full")


async def test_a_request_slower_than_ws_http_timeout_is_cut(db) -> None:
    async with serve(db, {"ws.http.timeout": "1"}) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        closed = False
        for step in range(25):  # a header line every 0.2 s, for 5 s at most
            await asyncio.sleep(0.2)
            if reader.at_eof() or writer.is_closing():
                closed = True
                break
            writer.write(b"X-Slow-%d: 1\r\n" % step)
            try:
                await asyncio.wait_for(reader.read(1), 0.01)
            except TimeoutError:
                continue
            closed = True
            break
        writer.close()
        assert closed, "the slow request was never cut"


async def test_an_idle_keep_alive_connection_is_closed(db) -> None:
    async with serve(db, {"ws.http.timeout": "1"}) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await read_until_closed(reader)
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200") and b'"status": "ok"' in answer
