"""A blocking XML API client over TCP or a unix socket.

Rules:
- ``Client(connect, user, password)`` does nothing until :meth:`Client.connect` (or ``with``):
  then it connects, logs in and keeps the greeting (``node``, ``profile``).
- :meth:`Client.exec` sends one request and returns the ``<response>`` element, skipping the
  server's keepalive pings; a KO response raises the typed :class:`~evqueue.protocol.ApiError`.
- ``timeout`` bounds the connection and every wait for the server's bytes; during a long
  command (synchronous launch) the server's pings keep the wait alive.
- :meth:`Client.close` sends ``<quit />`` and closes; leaving the ``with`` block does it.
"""

from __future__ import annotations

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

__all__ = ["Client", "ConnectionClosed"]

_READ_CHUNK = 64 * 1024


class Client:
    """A connection to one node's XML API.

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
        self._sock: socket.socket | None = None

    # --- connection -------------------------------------------------------------------------

    def connect(self) -> Client:
        """Connect and log in.

        Raises:
            OSError: the node cannot be reached (TimeoutError after ``timeout``).
            ApiError: the login was refused.
        """
        self._sock = self._open()
        try:
            while not self._protocol.ready:
                answer = self._protocol.login_step(self._receive())
                if answer is not None:
                    self._sock.sendall(answer)
        except BaseException:
            self._abort()
            raise
        return self

    def _open(self) -> socket.socket:
        address = self.address
        if isinstance(address, TcpAddress):
            sock = socket.create_connection((address.host, address.port), self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(address.path)
        except BaseException:
            sock.close()
            raise
        return sock

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

    def close(self) -> None:
        """Say goodbye (``<quit />``) and close; safe to call twice."""
        if self._sock is None:
            return
        try:
            self._sock.sendall(QUIT)
        except OSError:
            pass
        self._abort()

    def _abort(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Client:
        return self if self._sock is not None else self.connect()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- requests ---------------------------------------------------------------------------

    def exec(self, command: str | bytes | Command) -> etree._Element:
        """Send one request and return its ``<response>`` element.

        Args:
            command: the XML of the request, or a :class:`~evqueue.protocol.Command`.

        Raises:
            ApiError: the node answered KO (the subclass of its error-code).
            ConnectionClosed: the node closed the connection.
            OSError: the connection failed (TimeoutError after ``timeout``).
        """
        if self._sock is None:
            raise RuntimeError("not connected")
        self._sock.sendall(command_bytes(command))
        return self._protocol.result(self._receive())

    def _receive(self) -> etree._Element:
        assert self._sock is not None
        while (message := self._protocol.next_message()) is None:
            data = self._sock.recv(_READ_CHUNK)
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
        return message
