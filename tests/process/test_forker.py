"""Tests of evqueue.process.forker: a real forker process driven through its pipes."""

from __future__ import annotations

import errno
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest
import sysv_ipc

from evqueue.process import forker as forker_module
from evqueue.process.forker import REPLY, encode_request
from evqueue.process.forker_handle import ForkerHandle, start_forker
from evqueue.process.ipc import TaskExitMessage, decode_message
from evqueue.process.manager import monitor_alive
from evqueue.process.spec import ProcessSettings, TaskSpec
from tests.process.helpers import WAIT

HEAVY = ("lxml", "sqlalchemy", "aiohttp", "elementpath", "asyncio", "aiosqlite")


def wait_exited(pid: int) -> None:
    """Block until process ``pid`` (not necessarily our child) has exited."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return  # already exited and reaped
    try:
        ready, _, _ = select.select([pidfd], [], [], WAIT)
        assert ready, f"process {pid} did not exit"
    finally:
        os.close(pidfd)


def read_reply(fd: int) -> tuple[int, int]:
    data = b""
    while len(data) < REPLY.size:
        chunk = os.read(fd, REPLY.size - len(data))
        assert chunk, "the forker closed its reply pipe"
        data += chunk
    return REPLY.unpack(data)


def spawn(handle: ForkerHandle, spec: TaskSpec) -> int:
    os.write(handle.request_fd, encode_request(spec.tid, spec.encode()))
    tid, pid = read_reply(handle.reply_fd)
    assert tid == spec.tid and pid > 0
    return pid


def zombie_children(pid: int) -> list[int]:
    zombies = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == b"Z" and int(fields[1]) == pid:
            zombies.append(int(entry))
    return zombies


@pytest.fixture
def handle(settings: ProcessSettings):
    forker = start_forker(settings.forker_pidfile)
    yield forker
    forker.close()


def test_forker_and_monitor_import_nothing_heavy() -> None:
    code = (
        "import sys, evqueue.process.forker, evqueue.process.agent\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"


def test_forker_writes_its_pidfile_and_spawns_monitors(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    spec = TaskSpec.build(settings, tid=3, path="/bin/sh", args=["-c", "exit 9"])
    pid = spawn(handle, spec)
    assert Path(settings.forker_pidfile).read_text() == f"{handle.pid}\n"
    wait_exited(pid)
    data, mtype = queue.receive(block=False)
    assert decode_message(mtype, data) == TaskExitMessage(pid=pid, tid=3, retcode=9)


def test_forker_reaps_its_monitors(handle, settings: ProcessSettings) -> None:
    pids = [spawn(handle, TaskSpec.build(settings, tid=tid, path="/bin/true"))
            for tid in range(1, 6)]
    for pid in pids:
        wait_exited(pid)
    # The SIGCHLDs of those exits reached the forker before this request: once it has answered,
    # they are reaped.
    spawn(handle, TaskSpec.build(settings, tid=99, path="/bin/true"))
    assert not set(pids) & set(zombie_children(handle.pid))


def test_forker_exits_on_eof_while_a_monitor_keeps_running(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue, tmp_path: Path
) -> None:
    fifo = tmp_path / "hold"
    os.mkfifo(fifo)
    spec = TaskSpec.build(settings, tid=4, path="/bin/sh", args=["-c", f"read x < {fifo}"])
    monitor = spawn(handle, spec)
    handle.close()
    assert handle._popen is not None and handle._popen.returncode == 0
    assert not Path(settings.forker_pidfile).exists()
    assert monitor_alive(monitor)
    with open(fifo, "w") as writer:
        writer.write("go\n")
    wait_exited(monitor)
    data, mtype = queue.receive(block=False)
    assert decode_message(mtype, data) == TaskExitMessage(pid=monitor, tid=4, retcode=0)


def test_request_size_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forker_module, "MAX_REQUEST_SIZE", 10)
    with pytest.raises(ValueError, match="too large"):
        encode_request(1, b"x" * 11)
    assert len(encode_request(1, b"x" * 10)) == forker_module.REQUEST.size + 10


def test_undecodable_request_is_answered_with_einval(handle) -> None:
    os.write(handle.request_fd, encode_request(8, b"not a spec"))
    assert read_reply(handle.reply_fd) == (8, -errno.EINVAL)
