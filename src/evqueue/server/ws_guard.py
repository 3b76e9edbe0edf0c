"""What a client may hold on the websocket/HTTP port: a slot, a deadline for its first request,
and a small first message on a websocket before login.

aiohttp serves the port; :class:`PortGuard` accepts the connections (from an
:class:`~evqueue.server.acceptor.Acceptor`) and wraps each one's aiohttp protocol.

Rules:

- At most ``max_connections`` connections (``ws.connections.max`` + ``ws.http.connections.max``),
  counted from accept, a TLS handshake in progress included: one more is closed at once, before
  anything is read from it.
- The TLS handshake, then the first request's headers, must each come within
  ``header_timeout`` seconds (``ws.http.timeout``), however slowly the bytes arrive; later
  requests of a keep-alive connection get the same time from the end of the previous response
  through aiohttp's keep-alive timeout (``WsServer`` sets it), which also closes a connection
  still waiting for the rest of a request.
- A websocket on which a login is expected: after :meth:`PortGuard.limit_first_message` the
  connection follows the client's frame headers (:class:`FirstMessageLimit`); a first message
  of more than ``login_max`` bytes closes the connection with code 1009 from the header of its
  frame, before its payload is kept: what the client still sends is read and dropped for at
  most :data:`LINGER` seconds, so that it gets the close frame rather than a reset. Bytes sent
  after the upgrade request and before its answer (RFC 6455 §4.1 forbids them) refuse the
  upgrade: the frames would start at an unknown place.
- Refusals and closes are logged, one line a second at most of each kind.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable

from evqueue.protocol.ws_frames import FirstMessageLimit
from evqueue.server.throttled_log import ThrottledLog

__all__ = ["CLOSE_MESSAGE_TOO_BIG", "LINGER", "PortGuard"]

log = logging.getLogger("evqueue.server.ws")

#: RFC 6455 §7.4.1: a message too big to process.
CLOSE_MESSAGE_TOO_BIG = 1009
#: Seconds a refused websocket is given to take its close frame before the socket is cut.
LINGER = 1.0
_NOTICE = 25


class PortGuard:
    """Accepts and watches the connections of the websocket/HTTP port.

    Args:
        factory: makes aiohttp's protocol of one connection (``AppRunner.server``).
        max_connections: connections open at once at most.
        header_timeout: seconds for the TLS handshake, then for the first request's headers
            (None: no limit).
        login_max: the most bytes of a websocket's first message before login.
        ssl_context: TLS, or None.
    """

    def __init__(self, factory: Callable[[], asyncio.Protocol], *, max_connections: int,
                 header_timeout: float | None, login_max: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.factory = factory
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.login_max = login_max
        self.ssl_context = ssl_context
        self.open = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._guarded: dict[asyncio.BaseTransport, _Guarded] = {}
        self._full = ThrottledLog(log, logging.WARNING)
        self._closed = ThrottledLog(log, _NOTICE)

    # --- accept -------------------------------------------------------------------------------

    def accept(self, sock: socket.socket) -> None:
        """Serve an accepted socket, or close it at once when the port is full."""
        if self.open >= self.max_connections:
            sock.close()
            self._full("websocket/HTTP port full (%d connections), closing a new one",
                       self.max_connections)
            return
        self.open += 1
        task = asyncio.get_running_loop().create_task(self._serve(sock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, sock: socket.socket) -> None:
        """Hold the connection's slot until it ends (or its TLS handshake fails)."""
        loop = asyncio.get_running_loop()
        handshake = self.header_timeout if self.ssl_context is not None else None
        try:
            _, guarded = await loop.connect_accepted_socket(
                lambda: _Guarded(self), sock, ssl=self.ssl_context,
                ssl_handshake_timeout=handshake)
            await guarded.lost
        except OSError:  # the peer left, or its TLS handshake failed or took too long
            sock.close()
        finally:
            self.open -= 1

    async def close(self) -> None:
        """Drop what is still being set up (call after aiohttp closed its connections)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- what the application tells ------------------------------------------------------------

    def request_arrived(self, transport: asyncio.BaseTransport | None) -> None:
        """A request's headers are in: the connection's first deadline no longer applies."""
        guarded = self._guarded.get(transport) if transport is not None else None
        if guarded is not None:
            guarded.cancel_deadline()

    def limit_first_message(self, transport: asyncio.BaseTransport | None) -> bool:
        """From now on, the client's bytes are websocket frames: refuse a first message of more
        than ``login_max`` bytes from its header.

        Returns:
            False when bytes followed the upgrade request already (refuse the upgrade).
        """
        guarded = self._guarded.get(transport) if transport is not None else None
        if guarded is None:
            return True
        return guarded.limit_first_message()


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol, behind the deadline and the first-message limit."""

    def __init__(self, guard: PortGuard) -> None:
        self.guard = guard
        self.inner = guard.factory()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._limit: FirstMessageLimit | None = None
        self._tail = b""  # the last bytes received: where the upgrade request ended
        self._dropped = False

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.guard._guarded[transport] = self
        if self.guard.header_timeout is not None:
            self._deadline = asyncio.get_running_loop().call_later(
                self.guard.header_timeout, self._expire)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._dropped:
            return
        if self._limit is not None:
            if not self._limit.feed(data):
                self._too_large()
                return
            if self._limit.done:
                self._limit = None
        else:
            self._tail = (self._tail + data[-4:])[-4:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self._dropped:
            return None  # the refused client is done sending: close
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.cancel_deadline()
        if self._linger is not None:
            self._linger.cancel()
        if self.transport is not None:
            self.guard._guarded.pop(self.transport, None)
        self.inner.connection_lost(exc)
        if not self.lost.done():
            self.lost.set_result(None)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # --- guard ----------------------------------------------------------------------------

    def cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def limit_first_message(self) -> bool:
        # The request handler runs once the headers are parsed; anything after them that came
        # meanwhile would be frames sent before the handshake's answer.
        if not (self._tail.endswith(b"\n\r\n") or self._tail.endswith(b"\n\n")):
            return False
        self._limit = FirstMessageLimit(self.guard.login_max)
        return True

    def _expire(self) -> None:
        self._deadline = None
        if self.transport is not None:
            self.guard._closed("websocket/HTTP connection from %s closed: no request within %g s",
                               _peer(self.transport), self.guard.header_timeout)
            self.transport.close()

    def _too_large(self) -> None:
        """Close with 1009 without keeping the frame (a server's close frame is unmasked)."""
        assert self.transport is not None and self._limit is not None
        self._dropped = True
        self.guard._closed("websocket from %s closed: a first message of %d bytes before "
                           "login (limit %d)", _peer(self.transport), self._limit.size,
                           self.guard.login_max)
        reason = f"Message too big before login (limit is {self.guard.login_max} bytes)"
        payload = CLOSE_MESSAGE_TOO_BIG.to_bytes(2, "big") + reason.encode()
        self.transport.write(bytes([0x88, len(payload)]) + payload)
        if not self.transport.can_write_eof():  # TLS: no half-close, cut now
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = asyncio.get_running_loop().call_later(LINGER, self.transport.abort)


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) else "?"
