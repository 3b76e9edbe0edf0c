"""A fake node listening on a unix socket, speaking the XML API's login as evQueue does.

It sends the challenge (or ``<ready>`` without authentication), checks the HMAC answer of the
expected user, records every line received, answers every command OK (or with the KO given in
``answers``) and closes on ``<quit />``. ``commands`` receives each command line as it arrives
and ``closed`` each connection's transcript when it ends, so tests await deliveries instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from lxml import etree

from evqueue.protocol import compute_response, password_key

__all__ = ["CHALLENGE", "FakePeer", "fake_peer"]

CHALLENGE = "0123456789abcdef0123456789abcdef01234567"


class FakePeer:
    """One fake node (see the module docstring)."""

    def __init__(self, path: str, node: str = "fake", *, user: str | None = "admin",
                 password: str = "admin") -> None:
        self.path = path
        self.node = node
        self.user = user
        self.password = password
        self.answers: dict[str, str] = {}  # command line -> response line
        self.commands: asyncio.Queue[str] = asyncio.Queue()
        self.transcripts: list[bytes] = []  # every byte received, per connection
        self.closed: asyncio.Queue[bytes] = asyncio.Queue()  # a transcript, once closed
        self.connections = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> FakePeer:
        self._server = await asyncio.start_unix_server(self._client, path=self.path)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _greeting(self) -> bytes:
        return (f'<ready node="{self.node}" profile="ADMIN" status="OK" time="2026-01-01 '
                f'00:00:00" version="3.3"><modules/></ready>\n').encode()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        transcript = bytearray()
        self.transcripts.append(b"")
        index = len(self.transcripts) - 1
        try:
            if self.user is None:
                writer.write(self._greeting())
            else:
                writer.write(f'<auth challenge="{CHALLENGE}" node="{self.node}" '
                             f'status="OK"/>\n'.encode())
            await writer.drain()
            logged_in = self.user is None
            while line := await reader.readline():
                transcript += line
                self.transcripts[index] = bytes(transcript)
                element = etree.fromstring(line)
                if element.tag == "quit":
                    break
                if not logged_in:
                    if not self._check_auth(element):
                        writer.write(b'<response status="KO" error="Invalid authentication" '
                                     b'error-code="AUTH_ERROR"/>\n')
                        break
                    logged_in = True
                    writer.write(self._greeting())
                else:
                    text = line.decode().rstrip("\n")
                    writer.write(self.answers.get(
                        text, f'<response node="{self.node}" status="OK"/>\n').encode())
                    self.commands.put_nowait(text)
                await writer.drain()
        finally:
            self.closed.put_nowait(bytes(transcript))
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _check_auth(self, element: etree._Element) -> bool:
        expected = compute_response(CHALLENGE, password_key(self.password))
        return (element.tag == "auth" and element.get("user") == self.user
                and element.get("response") == expected)


@contextlib.asynccontextmanager
async def fake_peer(path: str, node: str = "fake", **kwargs) -> AsyncIterator[FakePeer]:
    """A started :class:`FakePeer`, stopped on exit."""
    peer = await FakePeer(path, node, **kwargs).start()
    try:
        yield peer
    finally:
        await peer.stop()
