"""An asyncio XML API client over TCP or a unix socket; the twin of :mod:`evqueue.client.sync`.

Rules:
- ``AsyncClient(connect, user, password)`` does nothing until ``await client.connect()`` (or
  ``async with``): then it connects, logs in and keeps the greeting.
- ``await client.exec(xml)`` returns the ``<response>`` element, skipping keepalive pings; a KO
  response raises the typed :class:`~evqueue.protocol.ApiError`.
- ``timeout`` bounds the connection and every wait for the server's bytes.
- ``await client.close()`` sends ``<quit />`` and closes; leaving ``async with`` does it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from types import TracebackType

from lxml import etree

from evqueue.client.core import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_SIZE,
    QUIT,
    ClientProtocol,
    ConnectionClosed,
    command_bytes,
    hmac_key,
)
from evqueue.protocol import Command, TcpAddress, parse_connection_string

__all__ = ["AsyncClient", "ConnectionClosed"]

_READ_CHUNK = 64 * 1024


class AsyncClient:
    """A connection to one node's XML API (asyncio).

    Args:
        connect: ``tcp://host[:port]`` or ``unix://path``.
        user: login name (None for a node without authentication).
        password: plain password.
        password_hash: SHA-1 hex of the password, instead of ``password``.
        timeout: seconds allowed for connecting and for each wait on the server.
        max_size: largest response accepted.
    """

    def __init__(self, connect: str = "tcp://localhost:5000", user: str | None = None,
                 password: str | None = None, *, password_hash: str | None = None,
                 timeout: float | None = DEFAULT_TIMEOUT,
                 max_size: int = MAX_RESPONSE_SIZE) -> None:
        self.address = parse_connection_string(connect)
        self.timeout = timeout
        self._protocol = ClientProtocol(user, hmac_key(password, password_hash),
                                        max_size=max_size)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    # --- connection -------------------------------------------------------------------------

    async def connect(self) -> AsyncClient:
        """Connect and log in.

        Raises:
            OSError: the node cannot be reached (TimeoutError after ``timeout``).
            ApiError: the login was refused.
        """
        address = self.address
        if isinstance(address, TcpAddress):
            opening = asyncio.open_connection(address.host, address.port)
        else:
            opening = asyncio.open_unix_connection(address.path)
        self._reader, self._writer = await asyncio.wait_for(opening, self.timeout)
        sock = self._writer.get_extra_info("socket")
        if isinstance(address, TcpAddress) and sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while not self._protocol.ready:
                answer = self._protocol.login_step(await self._receive())
                if answer is not None:
                    await self._send(answer)
        except BaseException:
            await self._abort()
            raise
        return self

    @property
    def greeting(self) -> etree._Element:
        """The ``<ready>`` element received at login."""
        if self._protocol.greeting is None:
            raise RuntimeError("not connected")
        return self._protocol.greeting

    @property
    def node(self) -> str:
        """The node's name (``cluster.node.name``)."""
        return self.greeting.get("node", "")

    @property
    def profile(self) -> str:
        """``ADMIN`` or ``USER``."""
        return self.greeting.get("profile", "")

    async def close(self) -> None:
        """Say goodbye (``<quit />``) and close; safe to call twice."""
        if self._writer is None:
            return
        with contextlib.suppress(OSError, TimeoutError):
            await self._send(QUIT)
        await self._abort()

    async def _abort(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def __aenter__(self) -> AsyncClient:
        return self if self._writer is not None else await self.connect()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    # --- requests ---------------------------------------------------------------------------

    async def exec(self, command: str | bytes | Command) -> etree._Element:
        """Send one request and return its ``<response>`` element.

        Raises:
            ApiError: the node answered KO (the subclass of its error-code).
            ConnectionClosed: the node closed the connection.
            OSError: the connection failed (TimeoutError after ``timeout``).
        """
        if self._writer is None:
            raise RuntimeError("not connected")
        await self._send(command_bytes(command))
        return self._protocol.result(await self._receive())

    async def _send(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        await asyncio.wait_for(self._writer.drain(), self.timeout)

    async def _receive(self) -> etree._Element:
        assert self._reader is not None
        while (message := self._protocol.next_message()) is None:
            data = await asyncio.wait_for(self._reader.read(_READ_CHUNK), self.timeout)
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
        return message
