"""The first-message limit of a websocket, fed literal client frame bytes."""

from __future__ import annotations

import struct

import pytest

from evqueue.protocol.ws_frames import FirstMessageLimit

MASK = b"\x01\x02\x03\x04"


def frame(payload: bytes, opcode: int = 0x1, fin: bool = True, masked: bool = True) -> bytes:
    """A client frame (RFC 6455 §5.2), with the shortest length encoding."""
    first = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, mask_bit | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", first, mask_bit | 127, n)
    if masked:
        payload = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        head += MASK
    return head + payload


def header_only(length: int, opcode: int = 0x1) -> bytes:
    """The header of a frame announcing ``length`` bytes, without them."""
    return struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length) + MASK


@pytest.mark.parametrize("size", [0, 125, 126, 4096])
def test_a_first_message_within_the_limit_passes_and_ends_the_watch(size):
    limit = FirstMessageLimit(4096)
    assert limit.feed(frame(b"x" * size) + header_only(10 * 1024 * 1024))
    assert limit.done and not limit.too_large and limit.size == size


@pytest.mark.parametrize("length", [4097, 65536, 15 * 1024 * 1024, 2**63])
def test_a_larger_one_is_refused_from_its_header_alone(length):
    limit = FirstMessageLimit(4096)
    assert not limit.feed(header_only(length))
    assert limit.too_large and limit.size == length
    assert not limit.feed(b"more")  # stays refused


def test_the_header_may_come_one_byte_at_a_time():
    limit = FirstMessageLimit(4096)
    data = header_only(5000)
    assert all(limit.feed(data[i:i + 1]) for i in range(len(data) - 1))
    assert not limit.feed(data[-1:])


def test_fragments_add_up_and_control_frames_are_skipped():
    limit = FirstMessageLimit(4096)
    stream = (frame(b"<auth " * 300, fin=False)  # 1,800 bytes
              + frame(b"ping", opcode=0x9)
              + frame(b"a" * 2000, opcode=0x0, fin=False)  # 3,800
              + frame(b"", opcode=0xA))
    assert limit.feed(stream) and not limit.done
    assert not limit.feed(frame(b"b" * 297, opcode=0x0))  # 4,097
    assert limit.size == 4097


def test_a_fragmented_message_within_the_limit_passes():
    limit = FirstMessageLimit(4096)
    stream = frame(b"a" * 4000, fin=False) + frame(b"b" * 96, opcode=0x0)
    for i in range(0, len(stream), 7):  # in small pieces, payloads split anywhere
        assert limit.feed(stream[i:i + 7])
    assert limit.done and limit.size == 4096


def test_unmasked_and_binary_frames_count_too():
    limit = FirstMessageLimit(10)
    assert not limit.feed(frame(b"x" * 11, opcode=0x2, masked=False))
