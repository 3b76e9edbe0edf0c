"""Tests of evqueue.process.agent, run as ``python -m evqueue.process.agent`` (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from evqueue.process.agentwire import AgentHeader, FrameDecoder


def run_agent(argv: list[str], stdin: bytes) -> tuple[int, dict[int, bytes]]:
    """Run the agent; return its exit status and what it sent per fd."""
    process = subprocess.run(
        [sys.executable, "-m", "evqueue.process.agent", *argv],
        input=stdin, capture_output=True, timeout=30,
    )
    decoder = FrameDecoder()
    streams: dict[int, bytes] = {1: b"", 2: b"", 3: b""}
    for fd, chunk in decoder.feed(process.stdout):
        streams[fd] += chunk
    decoder.feed_eof()
    return process.returncode, streams


def test_fds_are_multiplexed_and_status_returned() -> None:
    script = 'echo "out [$A] [$1]"; echo err >&2; echo %10 >&3; cat; exit 7'
    header = AgentHeader(env={"A": "from header"})
    code, streams = run_agent(["/bin/sh", "-c", script, "sh", "a 'b'"],
                              header.encode() + b"rest of stdin\n")
    assert code == 7
    assert streams == {1: b"out [from header] [a 'b']\nrest of stdin\n", 2: b"err\n", 3: b"%10\n"}


def test_large_output_is_chunked_in_frames() -> None:
    code, streams = run_agent(["/bin/sh", "-c", "head -c 100000 /dev/zero"],
                              AgentHeader().encode())
    assert code == 0
    assert streams[1] == bytes(100000)


def test_script_is_written_to_path_and_deleted(tmp_path: Path) -> None:
    path = tmp_path / "n-1.script"
    header = AgentHeader(script="#!/bin/sh\necho \"script $1\"\n", delete_script=True)
    code, streams = run_agent([str(path), "arg"], header.encode())
    assert (code, streams[1]) == (0, b"script arg\n")
    assert not path.exists()


def test_script_kept_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "n-2.script"
    header = AgentHeader(script="#!/bin/sh\nexit 0\n", delete_script=False)
    assert run_agent([str(path)], header.encode())[0] == 0
    assert os.access(path, os.X_OK)


def test_exec_failure_and_signal_give_minus_one() -> None:
    code, streams = run_agent(["/no/such/task"], AgentHeader().encode())
    assert code == 255
    assert streams[2] == b"Could not execute process: '/no/such/task'\n"
    code, _ = run_agent(["/bin/sh", "-c", "kill -9 $$"], AgentHeader().encode())
    assert code == 255


def test_usage_and_bad_header() -> None:
    process = subprocess.run([sys.executable, "-m", "evqueue.process.agent"],
                             capture_output=True, timeout=30)
    assert process.returncode == 255
    assert process.stderr.startswith(b"usage: evqueue-agent PATH [ARG...]\n")
    code, streams = run_agent(["/bin/true"], b"garbage")
    assert code == 255
    assert b"evqueue_agent:" in streams[2]


def test_help_prints_a_usage_text_and_exits_0() -> None:
    # Someone who finds evqueue-agent on a host and asks it what it is gets an answer, not a
    # framing error about the header the monitor would have sent.
    script = Path(sys.executable).with_name("evqueue-agent")
    for flag in ("--help", "-h"):
        result = subprocess.run([str(script), flag], capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
        assert (result.returncode, result.stderr) == (0, ""), flag
        assert result.stdout.startswith("usage: evqueue-agent PATH [ARG...]\n")
        assert "ssh" in result.stdout and "monitor" in result.stdout

