"""Tests of evqueue.process.child: spawning with an fd map and pumping pipes, real processes."""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from pathlib import Path

import pytest

from evqueue.process.child import exit_code, pump, spawn

ENV = dict(os.environ)


def collect() -> tuple[bytearray, list[bool], object]:
    data = bytearray()
    ended: list[bool] = []

    def reader(chunk: bytes) -> bool:
        if chunk:
            data.extend(chunk)
        else:
            ended.append(True)
        return True

    return data, ended, reader


def sh(script: str, fds: dict[int, int], *, setsid: bool = True) -> int:
    return spawn("/bin/sh", ["sh", "-c", script], ENV, fds, setsid=setsid)


def test_fd3_and_stdin_reach_the_child() -> None:
    log_r, log_w = os.pipe()
    in_r, in_w = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY)
    pid = sh("cat >&3; echo tail >&3", {0: in_r, 1: null, 2: null, 3: log_w})
    for fd in (log_w, in_r, null):
        os.close(fd)
    data, ended, reader = collect()
    status = pump(pid, stdin=(in_w, b"payload\n"), readers={log_r: reader})
    assert exit_code(status) == 0
    assert bytes(data) == b"payload\ntail\n"
    assert ended == [True]


def test_unread_stdin_does_not_deadlock() -> None:
    in_r, in_w = os.pipe()
    null = os.open(os.devnull, os.O_WRONLY)
    pid = sh("exit 4", {0: in_r, 1: null, 2: null})
    os.close(in_r)
    os.close(null)
    # Far more than a pipe buffer, never read by the child.
    assert exit_code(pump(pid, stdin=(in_w, b"x" * (4 * 1024 * 1024)), readers={})) == 4


def test_a_grandchild_holding_the_pipe_does_not_hold_the_pump() -> None:
    log_r, log_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    # The background sleep keeps fd 3 open after the shell exits.
    pid = sh("echo before >&3; sleep 30 & echo $! >&3", {0: null, 1: null, 2: null, 3: log_w})
    os.close(log_w)
    os.close(null)
    data, ended, reader = collect()
    assert exit_code(pump(pid, stdin=None, readers={log_r: reader})) == 0
    lines = bytes(data).split()
    assert lines[0] == b"before"
    os.kill(int(lines[1]), signal.SIGKILL)


def test_child_runs_in_its_own_session_with_default_signals() -> None:
    log_r, log_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        script = "cat /proc/$$/stat >&3; grep SigIgn /proc/$$/status >&3"
        pid = sh(script, {0: null, 1: null, 2: null, 3: log_w})
    finally:
        signal.signal(signal.SIGINT, previous)
    os.close(log_w)
    os.close(null)
    data, _, reader = collect()
    pump(pid, stdin=None, readers={log_r: reader})
    stat_line, ign_line = bytes(data).decode().splitlines()
    _state, _ppid, pgrp, session = stat_line.rsplit(")", 1)[1].split()[:4]
    assert (pgrp, session) == (str(pid), str(pid))
    assert int(ign_line.split()[1], 16) & (1 << (signal.SIGINT - 1)) == 0


def test_reader_returning_false_stops_reading() -> None:
    log_r, log_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    pid = sh("echo one >&3; exit 0", {0: null, 1: null, 2: null, 3: log_w})
    os.close(log_w)
    os.close(null)
    calls: list[bytes] = []

    def reader(chunk: bytes) -> bool:
        calls.append(chunk)
        return False

    pump(pid, stdin=None, readers={log_r: reader})
    assert calls == [b"one\n"]


def test_spawn_failure_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        spawn(str(tmp_path / "missing"), ["missing"], ENV, {}, setsid=False)
    no_shebang = tmp_path / "script"
    no_shebang.write_text("echo hi\n")
    no_shebang.chmod(0o755)
    with pytest.raises(OSError):
        spawn(str(no_shebang), ["script"], ENV, {}, setsid=False)


def test_exit_code_is_a_signed_char_or_minus_one() -> None:
    def status_of(script: str) -> int:
        null = os.open(os.devnull, os.O_RDWR)
        pid = sh(script, {0: null, 1: null, 2: null})
        os.close(null)
        return pump(pid, stdin=None, readers={})

    assert exit_code(status_of("exit 0")) == 0
    assert exit_code(status_of("exit 3")) == 3
    assert exit_code(status_of("exit 200")) == -56
    assert exit_code(status_of("kill -9 $$")) == -1


def test_mapped_fds_are_swapped_when_their_numbers_clash() -> None:
    # Each source is the other one's target: dup2 in map order alone would lose one pipe.
    first_r, first_w = os.pipe()
    second_r, second_w = os.pipe()
    a = fcntl.fcntl(first_w, fcntl.F_DUPFD_CLOEXEC, 200)
    b = fcntl.fcntl(second_w, fcntl.F_DUPFD_CLOEXEC, a + 1)
    for fd in (first_w, second_w):
        os.close(fd)
    script = f"import os; os.write({a}, b'to-{a}'); os.write({b}, b'to-{b}')"
    pid = spawn(sys.executable, ["python", "-c", script], ENV, {a: b, b: a}, setsid=False)
    for fd in (a, b):
        os.close(fd)
    assert exit_code(os.waitpid(pid, 0)[1]) == 0
    assert os.read(first_r, 100) == f"to-{b}".encode()
    assert os.read(second_r, 100) == f"to-{a}".encode()
