"""Raw-socket helpers for XML API end-to-end tests: exact bytes in, exact bytes out.

``Wire`` is a deliberately dumb client (no evqueue code on the wire path) so tests see what a
C++ or PHP client would see. ``shape()`` turns a message into a comparable structure with the
values that differ between runs (times, uptimes, challenges) normalised.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
from typing import Any

from lxml import etree

from tests.e2e.nodes import Node

__all__ = ["TRANSPORTS", "Wire", "answer", "shape"]

TRANSPORTS = ("tcp", "unix")
_VARYING = {"time": "<time>", "uptime": "<uptime>", "challenge": "<challenge>"}


def answer(challenge: str, password: str) -> str:
    """The client's response to a challenge (protocol.md §2.2, written out independently)."""
    key = hashlib.sha1(password.encode()).digest()
    return hmac.new(key, bytes.fromhex(challenge), hashlib.sha1).hexdigest()


def shape(message: bytes | str) -> tuple[Any, ...]:
    """(tag, attributes, children, text) with run-dependent values normalised."""
    element = etree.fromstring(message.encode() if isinstance(message, str) else message)
    return _shape(element)


def _shape(element: etree._Element) -> tuple[Any, ...]:
    attrs = {k: _VARYING.get(k, v) for k, v in element.attrib.items()}
    return (element.tag, attrs, tuple(_shape(child) for child in element),
            (element.text or "").strip())


class Wire:
    """A raw connection to a node's API over ``tcp`` or ``unix``."""

    def __init__(self, node: Node, transport: str = "tcp", timeout: float = 10.0) -> None:
        if transport == "tcp":
            self.sock = socket.create_connection(("127.0.0.1", node.api_port), timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(node.socket_path)
        self.buffer = b""

    def send(self, data: bytes | str) -> None:
        """Write bytes as they are."""
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def message(self) -> bytes:
        """The next line the server sends (a message and its ``\\n``), without the ``\\n``.

        Raises:
            ConnectionError: the server closed the connection first.
        """
        while b"\n" not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed by the server; pending {self.buffer!r}")
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def closed(self) -> bool:
        """True when the server has closed the connection (FIN) and sent nothing more."""
        if self.buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def challenge(self) -> str:
        """Read the ``<auth challenge=…>`` message and return the challenge."""
        message = etree.fromstring(self.message())
        assert message.tag == "auth", message
        return message.get("challenge", "")

    def login(self, user: str = "admin", password: str = "admin") -> bytes:
        """Authenticate; returns the greeting."""
        challenge = self.challenge()
        self.send(f"<auth response='{answer(challenge, password)}' user='{user}' />")
        return self.message()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
