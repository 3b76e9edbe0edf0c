"""The size of a websocket client's first message, read from frame headers (RFC 6455 §5.2).

Before login the only message a websocket may send is a short ``<auth …/>``. Reading a frame
whole before looking at its size lets anyone make the node hold megabytes per connection, so
:class:`FirstMessageLimit` follows the client's bytes and refuses the first data message as
soon as the header of one of its frames says the message would exceed the limit, before any of
that frame's payload is kept.

Rules:

- Text, binary and continuation frames count, until the frame with FIN ends the first message;
  after that :attr:`FirstMessageLimit.done` is true and nothing more is looked at.
- Control frames (close, ping, pong; at most 125 bytes, RFC 6455 §5.5) are skipped over.
- The limit is on payload bytes as sent (a compressed frame counts its compressed size).
- No I/O: bytes go in through :meth:`FirstMessageLimit.feed`, a verdict comes out.
"""

from __future__ import annotations

__all__ = ["FirstMessageLimit"]

_DATA_OPCODES = frozenset({0x0, 0x1, 0x2})  # continuation, text, binary


class FirstMessageLimit:
    """Watches the frame headers of a client's byte stream for a first message too large.

    Args:
        max_size: the most payload bytes the first data message may have.
    """

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 0  # payload bytes of the first message announced so far
        self.done = False
        self.too_large = False
        self._header = bytearray()  # the frame header being read
        self._skip = 0  # payload bytes of the current frame still to pass over

    def feed(self, data: bytes) -> bool:
        """Look at the next bytes of the stream.

        Returns:
            False once the first message is known to be too large (then always False).
        """
        position = 0
        while not (self.done or self.too_large) and position < len(data):
            if self._skip:
                step = min(self._skip, len(data) - position)
                self._skip -= step
                position += step
                continue
            needed = _header_size(self._header)
            take = min(needed - len(self._header), len(data) - position)
            self._header += data[position:position + take]
            position += take
            if len(self._header) == _header_size(self._header):
                self._frame(bytes(self._header))
                self._header.clear()
        return not self.too_large

    def _frame(self, header: bytes) -> None:
        """Account for one complete frame header."""
        fin, opcode = header[0] & 0x80, header[0] & 0x0F
        length = _payload_length(header)
        if opcode in _DATA_OPCODES:
            self.size += length
            if self.size > self.max_size:
                self.too_large = True
                return
            if fin:
                self.done = True
                return
        self._skip = length


def _header_size(header: bytes | bytearray) -> int:
    """How long the frame header starting with ``header`` is (2 while unknown)."""
    if len(header) < 2:
        return 2
    length_flag = header[1] & 0x7F
    extended = 2 if length_flag == 126 else 8 if length_flag == 127 else 0
    mask = 4 if header[1] & 0x80 else 0
    return 2 + extended + mask


def _payload_length(header: bytes) -> int:
    length_flag = header[1] & 0x7F
    if length_flag == 126:
        return int.from_bytes(header[2:4], "big")
    if length_flag == 127:
        return int.from_bytes(header[2:10], "big")
    return length_flag
