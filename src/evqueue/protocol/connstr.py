"""Connection strings naming an engine's XML API: ``tcp://host[:port]`` and ``unix://path``.

Rules (protocol.md §1.6, evQueue's ``ClientBase``):

- ``tcp://<host>[:<port>]``, port 5000 by default. An IPv6 literal is written in brackets,
  ``tcp://[::1]:5000`` (evQueue is IPv4 only; this is an addition).
- ``unix://<path>``; ``unix:///run/evqueue.sock`` is the path ``/run/evqueue.sock``. The path
  must be shorter than ``sun_path`` (108 bytes on Linux).
- Errors carry evQueue's messages: ``Missing hostname, expected format :
  tcp://<hostname>[:<port>]``, ``Invalid port number``, ``Missing path, expected format :
  unix://<path>``, ``Unix socket path is too long``, ``Invalid connection string format.
  Expected : tcp://<hostname>[:<port>] or unix://<path>``.
- Unlike evQueue, surrounding whitespace is trimmed (``cluster.nodes = "tcp://a, tcp://b"``
  works) and the port must be all digits in 1–65535 (evQueue's ``std::stoi`` read ``5000x``
  as 5000 and did not check the range).
- Parsing only: no name resolution, no socket.
"""

from __future__ import annotations

from dataclasses import dataclass

from evqueue.errors import InvalidConnectionString

__all__ = [
    "DEFAULT_PORT",
    "UNIX_PATH_MAX",
    "Address",
    "TcpAddress",
    "UnixAddress",
    "parse_connection_string",
    "split_connection_strings",
]

#: Port used when a ``tcp://`` string has none.
DEFAULT_PORT = 5000
#: Size of ``sockaddr_un.sun_path`` on Linux; a path must be strictly shorter.
UNIX_PATH_MAX = 108

_MISSING_HOST = "Missing hostname, expected format : tcp://<hostname>[:<port>]"
_MISSING_PATH = "Missing path, expected format : unix://<path>"
_INVALID_PORT = "Invalid port number"
_INVALID_FORMAT = (
    "Invalid connection string format. Expected : tcp://<hostname>[:<port>] or unix://<path>"
)


@dataclass(frozen=True)
class TcpAddress:
    """An engine reachable over TCP."""

    host: str
    port: int = DEFAULT_PORT

    def __post_init__(self) -> None:
        if not self.host:
            raise InvalidConnectionString(_MISSING_HOST)
        if not 0 < self.port < 65536:
            raise InvalidConnectionString(_INVALID_PORT)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True)
class UnixAddress:
    """An engine reachable over a unix socket."""

    path: str

    def __post_init__(self) -> None:
        if not self.path:
            raise InvalidConnectionString(_MISSING_PATH)
        if len(self.path.encode("utf-8", "surrogateescape")) >= UNIX_PATH_MAX:
            raise InvalidConnectionString("Unix socket path is too long")

    def __str__(self) -> str:
        return f"unix://{self.path}"


Address = TcpAddress | UnixAddress


def _parse_port(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidConnectionString(_INVALID_PORT)
    return int(text)


def _parse_tcp(rest: str) -> TcpAddress:
    if rest.startswith("["):
        host, bracket, after = rest[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise InvalidConnectionString(_INVALID_FORMAT)
        port_text = after[1:] if after else None
    else:
        host, colon, port_text_found = rest.partition(":")
        port_text = port_text_found if colon else None
    if not host:
        raise InvalidConnectionString(_MISSING_HOST)
    port = DEFAULT_PORT if port_text is None else _parse_port(port_text)
    return TcpAddress(host, port)


def parse_connection_string(text: str) -> Address:
    """Parse a connection string.

    Args:
        text: ``tcp://host[:port]`` or ``unix://path``; surrounding whitespace is ignored.

    Returns:
        A :class:`TcpAddress` or a :class:`UnixAddress`.

    Raises:
        InvalidConnectionString: with evQueue's message for the problem.
    """
    text = text.strip()
    if text.startswith("tcp://"):
        return _parse_tcp(text[len("tcp://") :])
    if text.startswith("unix://"):
        return UnixAddress(text[len("unix://") :])
    raise InvalidConnectionString(_INVALID_FORMAT)


def split_connection_strings(value: str) -> list[str]:
    """Split a comma-separated list (``cluster.nodes``), trimming entries and dropping empties.

    Entries are not parsed, so one bad entry does not hide the others.
    """
    return [entry.strip() for entry in value.split(",") if entry.strip()]
