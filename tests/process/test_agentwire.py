"""Tests of evqueue.process.agentwire: agent frames and header, as bytes."""

from __future__ import annotations

import os

import pytest

from evqueue.process.agentwire import (
    MAX_CHUNK,
    AgentHeader,
    FrameDecoder,
    encode_frames,
    read_header,
)
from evqueue.process.errors import AgentProtocolError


def test_frame_format_is_evqueue_agent_format() -> None:
    assert encode_frames(1, b"hello") == b"01000000005hello"
    assert encode_frames(3, b"%50\n") == b"03000000004%50\n"
    assert encode_frames(2, b"") == b""


def test_large_data_is_chunked() -> None:
    data = bytes(range(256)) * 40  # 10240 bytes
    frames = encode_frames(2, data)
    decoded = FrameDecoder().feed(frames)
    assert [len(chunk) for _, chunk in decoded] == [MAX_CHUNK, MAX_CHUNK, 10240 - 2 * MAX_CHUNK]
    assert b"".join(chunk for _, chunk in decoded) == data


def test_decoder_handles_split_input() -> None:
    stream = encode_frames(1, b"out") + encode_frames(3, b"log\n") + encode_frames(2, b"err")
    decoder = FrameDecoder()
    frames = []
    for byte in stream:
        frames += decoder.feed(bytes([byte]))
    decoder.feed_eof()
    assert frames == [(1, b"out"), (3, b"log\n"), (2, b"err")]


@pytest.mark.parametrize("bad", [b"xx000000001a", b"09000000001a", b"01000009999" + b"a"])
def test_decoder_rejects_corrupted_frames(bad: bytes) -> None:
    with pytest.raises(AgentProtocolError, match="Corrupted"):
        FrameDecoder().feed(bad)


def test_truncated_stream_is_an_error() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"0100000001")
    with pytest.raises(AgentProtocolError, match="truncated"):
        decoder.feed_eof()


def test_header_is_read_exactly_leaving_the_task_stdin() -> None:
    header = AgentHeader(env={"A": "1"}, script="#!/bin/sh\n", delete_script=False)
    read_end, write_end = os.pipe()
    os.write(write_end, header.encode() + b"task stdin")
    os.close(write_end)
    try:
        assert read_header(read_end) == header
        assert os.read(read_end, 100) == b"task stdin"
    finally:
        os.close(read_end)


def test_header_errors() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"000000005{bad}")
    os.close(write_end)
    try:
        with pytest.raises(AgentProtocolError, match="invalid agent header"):
            read_header(read_end)
    finally:
        os.close(read_end)
    read_end, write_end = os.pipe()
    os.write(write_end, b"0000")
    os.close(write_end)
    try:
        with pytest.raises(AgentProtocolError, match="ended inside"):
            read_header(read_end)
    finally:
        os.close(read_end)
