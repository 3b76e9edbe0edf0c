"""Tests of evqueue.process.forker_handle: starting, watching and closing a real forker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from evqueue.process.forker_handle import start_forker


def session_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[3])


def test_forker_runs_in_its_own_session_and_writes_its_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "forker.pid"
    handle = start_forker(str(pidfile))
    try:
        assert handle.alive() and not handle.closed
        # The pidfile is written once the interpreter is up; a zero-length request answers
        # only after that point, so wait for it by reading the reply pipe.
        os.write(handle.request_fd, (1).to_bytes(8, "big") + (0).to_bytes(4, "big"))
        assert len(os.read(handle.reply_fd, 16)) == 16
        assert pidfile.read_text() == f"{handle.pid}\n"
        assert session_of(handle.pid) == handle.pid
    finally:
        handle.close()
    assert handle.closed and not handle.alive()
    assert not pidfile.exists()
    handle.close()  # closing twice is harmless


async def test_aclose_waits_without_blocking_the_loop() -> None:
    handle = start_forker()
    await handle.aclose()
    assert handle.closed and not handle.alive()


def test_restart_starts_a_forker_like_the_first(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pidfile = tmp_path / "forker.pid"
    wd = tmp_path / "wd"
    wd.mkdir()
    first = start_forker(str(pidfile), cwd=str(wd), env={**os.environ, "EVQ_MARK": "kept"})
    os.kill(first.pid, 9)
    first.close()
    monkeypatch.chdir(tmp_path)  # where the engine is now does not matter
    second = first.restart()
    try:
        os.write(second.request_fd, (1).to_bytes(8, "big") + (0).to_bytes(4, "big"))
        assert len(os.read(second.reply_fd, 16)) == 16
        assert second.pid != first.pid and pidfile.read_text() == f"{second.pid}\n"
        assert os.readlink(f"/proc/{second.pid}/cwd") == str(wd)
        assert b"EVQ_MARK=kept" in Path(f"/proc/{second.pid}/environ").read_bytes().split(b"\0")
        assert session_of(second.pid) == second.pid
    finally:
        second.close()
    assert not second.alive()
