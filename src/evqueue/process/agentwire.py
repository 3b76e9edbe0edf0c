"""The wire format between the monitor and the remote agent (``evqueue.process.agent``).

Monitor → agent (the agent's stdin, through ssh): an :class:`AgentHeader` (``%09d`` length then
JSON: environment, script, delete flag), then the raw stdin data of the task until EOF. The agent
reads the header with exact unbuffered reads, so the rest of its stdin is the task's stdin.

Agent → monitor (the agent's stdout): frames ``"%02d%09d" % (fd, len)`` followed by ``len`` bytes
(``len`` ≤ :data:`MAX_CHUNK`), fd being 1 (stdout), 2 (stderr) or 3 (log channel). This is the
frame format of evQueue's ``evqueue_agent``. :class:`FrameDecoder` is sans-I/O.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from evqueue.process.errors import AgentProtocolError

__all__ = [
    "FRAME_HEADER_SIZE",
    "MAX_CHUNK",
    "AgentHeader",
    "FrameDecoder",
    "encode_frames",
    "read_header",
]

#: Largest data part of one frame.
MAX_CHUNK = 4096
#: ``%02d`` fd + ``%09d`` length.
FRAME_HEADER_SIZE = 11
_HEADER_LENGTH_SIZE = 9
_FORWARDED_FDS = (1, 2, 3)


def encode_frames(fd: int, data: bytes) -> bytes:
    """Encode data read from one of the task's fds as frames of at most :data:`MAX_CHUNK` bytes.

    Args:
        fd: 1, 2 or 3.
        data: the bytes (empty → no frame).

    Returns:
        The frames, concatenated.
    """
    if fd not in _FORWARDED_FDS:
        raise ValueError(f"cannot forward fd {fd}")
    out = bytearray()
    for start in range(0, len(data), MAX_CHUNK):
        chunk = data[start : start + MAX_CHUNK]
        out += b"%02d%09d" % (fd, len(chunk))
        out += chunk
    return bytes(out)


class FrameDecoder:
    """Splits the agent's stdout back into ``(fd, data)`` pieces."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add bytes read from the agent.

        Args:
            data: the bytes.

        Returns:
            The complete frames as ``(fd, data)``.

        Raises:
            AgentProtocolError: a frame header is malformed.
        """
        self._buffer += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buffer) >= FRAME_HEADER_SIZE:
            header = bytes(self._buffer[:FRAME_HEADER_SIZE])
            if not header.isdigit():
                raise AgentProtocolError("Corrupted data received from evqueue agent")
            fd, size = int(header[:2]), int(header[2:])
            if fd not in _FORWARDED_FDS or size > MAX_CHUNK:
                raise AgentProtocolError("Corrupted data received from evqueue agent")
            if len(self._buffer) < FRAME_HEADER_SIZE + size:
                break
            frames.append((fd, bytes(self._buffer[FRAME_HEADER_SIZE : FRAME_HEADER_SIZE + size])))
            del self._buffer[: FRAME_HEADER_SIZE + size]
        return frames

    def feed_eof(self) -> None:
        """Signal the end of the agent's output.

        Raises:
            AgentProtocolError: the output stopped in the middle of a frame.
        """
        if self._buffer:
            raise AgentProtocolError("Corrupted data received from evqueue agent (truncated)")


@dataclass(frozen=True)
class AgentHeader:
    """What the agent needs besides argv: the task's variables and its script."""

    env: dict[str, str] = field(default_factory=dict)
    script: str | None = None
    delete_script: bool = True

    def encode(self) -> bytes:
        """``%09d`` length + JSON."""
        body = json.dumps(
            {"env": self.env, "script": self.script, "delete_script": self.delete_script},
            separators=(",", ":"),
        ).encode("utf-8")
        return b"%09d" % len(body) + body

    @classmethod
    def decode(cls, body: bytes) -> AgentHeader:
        """Parse the JSON part.

        Raises:
            AgentProtocolError: the JSON is not a header.
        """
        try:
            data = json.loads(body)
            env = {str(k): str(v) for k, v in data["env"].items()}
            script = data["script"]
            return cls(env=env, script=None if script is None else str(script),
                       delete_script=bool(data["delete_script"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AgentProtocolError(f"invalid agent header: {exc}") from None


def _read_exact(fd: int, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            raise AgentProtocolError("agent input ended inside its header")
        data += chunk
    return bytes(data)


def read_header(fd: int) -> AgentHeader:
    """Read the header from ``fd`` without reading one byte past it.

    Args:
        fd: the agent's stdin.

    Returns:
        The header.

    Raises:
        AgentProtocolError: missing or malformed header.
    """
    length = _read_exact(fd, _HEADER_LENGTH_SIZE)
    if not length.isdigit():
        raise AgentProtocolError("invalid agent header length")
    return AgentHeader.decode(_read_exact(fd, int(length)))
