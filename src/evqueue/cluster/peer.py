"""A short connection from this node to another node of the cluster.

Rules (protocol.md §8.1):
- A peer is named by a connection string of ``cluster.nodes`` (``tcp://host[:port]`` or
  ``unix://path``). Connecting reads the server's first message (the challenge, or ``<ready>``
  when it has no authentication) and learns the peer's node name from its ``node`` attribute,
  BEFORE logging in: that is how a node recognises itself in ``cluster.nodes``, without ever
  comparing addresses.
- Three timeouts, as evQueue's ``cluster.cnx.timeout`` / ``cluster.rcv.timeout`` /
  ``cluster.snd.timeout``: for the connection, for each wait on the peer's bytes, for each
  write. They use ``asyncio.timeout`` (Python 3.11's ``wait_for`` can swallow a cancellation,
  and a stopping node cancels its workers).
- Login and requests go through the sans-I/O :class:`~evqueue.client.ClientProtocol`; a KO
  response raises its :class:`~evqueue.protocol.ApiError`. Closing sends ``<quit />`` once
  logged in (before that, the connection is just closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from dataclasses import dataclass
from types import TracebackType

from lxml import etree

from evqueue.client.core import QUIT, ClientProtocol, command_bytes, hmac_key
from evqueue.config import Config
from evqueue.protocol import TcpAddress, parse_connection_string

__all__ = ["Peer", "PeerTimeouts", "nobody_listens"]

_READ_CHUNK = 64 * 1024
#: Largest message accepted from a peer (replies to cluster commands are small).
_MAX_MESSAGE = 1024 * 1024


@dataclass(frozen=True)
class PeerTimeouts:
    """Seconds allowed to connect, to wait for each reply, and for each write."""

    connect: float | None = 10.0
    receive: float | None = 5.0
    send: float | None = 5.0

    @classmethod
    def from_config(cls, cfg: Config) -> PeerTimeouts:
        """``cluster.cnx.timeout`` / ``cluster.rcv.timeout`` / ``cluster.snd.timeout``
        (0 means no limit)."""
        values = (cfg[f"cluster.{name}.timeout"] for name in ("cnx", "rcv", "snd"))
        return cls(*(float(value) if value else None for value in values))


def nobody_listens(error: BaseException) -> bool:
    """Whether a connection error proves that no process serves that address.

    A refused connection or a missing socket file does; a timeout does not (the node may be
    busy, or the network slow).
    """
    return isinstance(error, (ConnectionRefusedError, FileNotFoundError)) or (
        isinstance(error, OSError) and error.errno in (errno.ECONNREFUSED, errno.ENOENT))


class Peer:
    """One connection to another node: ``async with Peer(cnx) as peer`` connects and reads the
    first message; then :meth:`login` and :meth:`exec`.

    Args:
        connect: the peer's connection string.
        user: login name (None when the peers have no authentication).
        password: plain password of ``user``.
        timeouts: connect / receive / send timeouts.

    Raises:
        InvalidConnectionString: ``connect`` is not a connection string.
    """

    def __init__(self, connect: str, *, user: str | None = None, password: str | None = None,
                 timeouts: PeerTimeouts | None = None) -> None:
        self.connect_string = connect
        self.address = parse_connection_string(connect)
        self.timeouts = timeouts or PeerTimeouts()
        self._protocol = ClientProtocol(user, hmac_key(password), max_size=_MAX_MESSAGE)
        self._first: etree._Element | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        #: the peer's ``cluster.node.name``, known once connected
        self.node = ""

    async def open(self) -> Peer:
        """Connect and read the peer's first message (its name).

        Raises:
            OSError: the peer cannot be reached (TimeoutError after the connect timeout).
            ApiError: the peer refused the connection (e.g. too many connections).
        """
        address = self.address
        if isinstance(address, TcpAddress):
            opening = asyncio.open_connection(address.host, address.port)
        else:
            opening = asyncio.open_unix_connection(address.path)
        async with asyncio.timeout(self.timeouts.connect):
            self._reader, self._writer = await opening
        try:
            self._first = await self._receive()
            if self._first.tag == "response" and self._first.get("status") == "KO":
                self._protocol.login_step(self._first)  # raises the error it carries
            self.node = self._first.get("node", "")
        except BaseException:
            await self._abort()
            raise
        return self

    async def login(self) -> None:
        """Answer the challenge (nothing to do when the peer has no authentication).

        Raises:
            ApiError: the login was refused (AuthError when no user was given).
        """
        assert self._first is not None, "open() first"
        message = self._first
        while True:
            answer = self._protocol.login_step(message)
            if answer is not None:
                await self._send(answer)
            if self._protocol.ready:
                return
            message = await self._receive()

    async def exec(self, command: str) -> etree._Element:
        """Send one request and return the ``<response>``; KO raises its ApiError."""
        await self._send(command_bytes(command))
        return self._protocol.result(await self._receive())

    async def close(self) -> None:
        """Send ``<quit />`` when logged in (best effort) and close; safe to call twice.

        Before the login, the connection is just closed: a ``<quit />`` where the server
        expects ``<auth>`` would only be logged there as a protocol error.
        """
        if self._writer is None:
            return
        if self._protocol.ready:
            with contextlib.suppress(OSError, TimeoutError):
                await self._send(QUIT)
        await self._abort()

    async def __aenter__(self) -> Peer:
        return await self.open()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def _abort(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _send(self, data: bytes) -> None:
        assert self._writer is not None
        self._writer.write(data)
        async with asyncio.timeout(self.timeouts.send):
            await self._writer.drain()

    async def _receive(self) -> etree._Element:
        assert self._reader is not None
        while (message := self._protocol.next_message()) is None:
            async with asyncio.timeout(self.timeouts.receive):
                data = await self._reader.read(_READ_CHUNK)
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
        return message
