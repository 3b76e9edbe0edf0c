"""The client side of the XML API, without I/O: login, requests, responses, keepalives.

Rules (protocol.md §1.4, §2, §7):

- Bytes from the server go in (:meth:`ClientProtocol.receive_data`), messages come out
  (:meth:`ClientProtocol.next_message`); the server's ``<ping />`` keepalives are skipped.
- Login: a first message ``<ready>`` means the server has no authentication; ``<auth
  challenge=…>`` is answered with ``<auth response=… user=…/>``, the HMAC-SHA1 of the challenge
  keyed with SHA1(password), and must be followed by ``<ready>``. A KO response instead raises
  the typed error it carries.
- A response with ``status="OK"`` is returned as an lxml element; ``status="KO"`` raises the
  :class:`~evqueue.protocol.ApiError` subclass of its ``error-code``
  (:func:`~evqueue.protocol.error_for_code`).
- Requests are sent as one line: the XML followed by ``\\n``.
"""

from __future__ import annotations

from lxml import etree

from evqueue.protocol import (
    CLOSED,
    ApiProtocol,
    AuthError,
    Command,
    UnexpectedException,
    compute_response,
    error_for_code,
    key_from_hex,
    password_key,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_RESPONSE_SIZE",
    "QUIT",
    "ClientProtocol",
    "ConnectionClosed",
    "command_bytes",
    "hmac_key",
]

#: Seconds to wait for the server (connect, each read and write) unless told otherwise.
DEFAULT_TIMEOUT = 30.0
#: Largest response a client accepts (instance lists and definitions can be large).
MAX_RESPONSE_SIZE = 256 * 1024 * 1024
#: What a client sends before closing.
QUIT = b"<quit />\n"


class ConnectionClosed(ConnectionError):
    """The server closed the connection where a message was expected."""


def hmac_key(password: str | None = None, password_hash: str | None = None) -> bytes | None:
    """The login key: SHA1 of the plain ``password``, or ``password_hash`` (40 hex characters).

    Returns:
        None when neither is given (for a server without authentication).
    """
    if password_hash is not None:
        return key_from_hex(password_hash)
    if password is not None:
        return password_key(password)
    return None


def command_bytes(command: str | bytes | Command) -> bytes:
    """The bytes to send for one request: the XML and one ``\\n``."""
    if isinstance(command, Command):
        data = command.serialize()
    elif isinstance(command, str):
        data = command.encode("utf-8")
    else:
        data = bytes(command)
    return data.rstrip() + b"\n"


def _raise_ko(element: etree._Element) -> None:
    error = error_for_code(element.get("error-code"), element.get("error", "Unknown error"))
    error.response = element  # type: ignore[attr-defined]
    raise error


class ClientProtocol:
    """One client connection's state, fed with the server's bytes.

    Args:
        user: the login name, or None for a server without authentication.
        key: the login key (:func:`hmac_key`), or None.
        max_size: largest message accepted from the server.
    """

    def __init__(self, user: str | None = None, key: bytes | None = None, *,
                 max_size: int = MAX_RESPONSE_SIZE) -> None:
        self.user = user
        self.key = key
        self._reader = ApiProtocol(node="client", max_size=max_size)
        self.greeting: etree._Element | None = None
        self._answered_challenge = False

    # --- input ------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Buffer bytes from the server."""
        self._reader.receive_data(data)

    def receive_eof(self) -> None:
        """Record that the server closed the connection."""
        self._reader.receive_eof()

    def next_message(self) -> etree._Element | None:
        """The next message other than a keepalive ping, or None if more bytes are needed.

        Raises:
            ConnectionClosed: the server closed the connection between messages.
            ProtocolError: the server's bytes are not XML messages.
        """
        while True:
            event = self._reader.next_event()
            if event is CLOSED:
                raise ConnectionClosed("connection closed by the server")
            if not isinstance(event, Command):
                return None
            assert event.element is not None
            if event.group != "ping":
                return event.element

    # --- login ------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether the login is over (the greeting was received)."""
        return self.greeting is not None

    def login_step(self, message: etree._Element) -> bytes | None:
        """Handle one message of the login; returns what to send, if anything.

        Raises:
            AuthError: authentication is required but no user was given.
            ApiError: the server refused (wrong password, too many connections…).
        """
        if message.tag == "ready":
            self.greeting = message
            return None
        if message.tag == "response" and message.get("status") == "KO":
            _raise_ko(message)
        if message.tag == "auth" and not self._answered_challenge:
            challenge = message.get("challenge", "")
            if self.user is None or self.key is None:
                raise AuthError("The server requires authentication: give a user and password")
            self._answered_challenge = True
            answer = Command.build("auth", {"response": compute_response(challenge, self.key),
                                            "user": self.user})
            return command_bytes(answer)
        raise UnexpectedException(f"Unexpected message '{message.tag}' during login")

    # --- requests ---------------------------------------------------------------------------

    @staticmethod
    def result(message: etree._Element) -> etree._Element:
        """The response element of a request, or the typed error it reports.

        Raises:
            ApiError: ``status="KO"``; the instance carries the element as ``response``.
        """
        if message.tag != "response":
            raise UnexpectedException(f"Unexpected message '{message.tag}' instead of a response")
        if message.get("status") != "OK":
            _raise_ko(message)
        return message
