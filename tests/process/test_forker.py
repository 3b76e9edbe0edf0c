"""Tests of evqueue.process.forker: a real forker process driven through its pipes."""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import sys
import time
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


# -- monitors that run more than one task ----------------------------------------------------


def exit_of(queue: sysv_ipc.MessageQueue, tid: int) -> TaskExitMessage:
    """The exit message of ``tid`` (waiting for it)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            data, mtype = queue.receive(block=False)
        except sysv_ipc.BusyError:
            time.sleep(0.005)
            continue
        message = decode_message(mtype, data)
        if isinstance(message, TaskExitMessage) and message.tid == tid:
            return message
    raise AssertionError(f"no exit of task {tid}")


def waiting_monitor(handle: ForkerHandle, settings: ProcessSettings,
                    queue: sysv_ipc.MessageQueue, *args: str) -> int:
    """The pid of the monitor that ran task 1 (``/bin/sh -c ARGS``, or ``/bin/true``), once
    it had the time to say it waits for another (when it may)."""
    spec = (TaskSpec.build(settings, tid=1, path="/bin/sh", args=["-c", *args]) if args
            else TaskSpec.build(settings, tid=1, path="/bin/true"))
    pid = spawn(handle, spec)
    exit_of(queue, 1)
    time.sleep(0.05)  # it says it waits
    return pid


def test_a_monitor_that_waits_runs_the_next_task(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    first = spawn(handle, TaskSpec.build(settings, tid=1, path="/bin/sh", args=["-c", "exit 3"]))
    assert exit_of(queue, 1) == TaskExitMessage(pid=first, tid=1, retcode=3)
    time.sleep(0.05)  # it says it waits
    second = spawn(handle, TaskSpec.build(settings, tid=2, path="/bin/sh",
                                          args=["-c", "echo two; exit 4"]))
    assert second == first
    assert exit_of(queue, 2) == TaskExitMessage(pid=first, tid=2, retcode=4)
    assert Path(settings.logs_directory, f"{settings.node}-2.stdout").read_text() == "two\n"


def test_a_waiting_monitor_is_let_go_after_a_while(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    pid = spawn(handle, TaskSpec.build(settings, tid=1, path="/bin/true"))
    exit_of(queue, 1)
    started = time.monotonic()
    wait_exited(pid)
    assert time.monotonic() - started < forker_module.IDLE_TIMEOUT + 1.5


def test_waiting_monitors_exit_with_the_forker(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    pid = waiting_monitor(handle, settings, queue)
    handle.close()
    wait_exited(pid)


def test_a_signal_meant_for_the_task_before_does_not_kill_the_next(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    pid = waiting_monitor(handle, settings, queue)
    second = TaskSpec.build(settings, tid=2, path="/bin/sh", args=["-c", "sleep 3; exit 5"])
    assert spawn(handle, second) == pid
    time.sleep(0.2)
    os.kill(pid, signal.SIGTERM)  # a kill of task 1, late: no kill file for task 2
    time.sleep(0.2)
    Path(second.kill_path).touch()  # what ProcessManager.kill writes before signalling
    os.kill(pid, signal.SIGTERM)
    started = time.monotonic()
    assert exit_of(queue, 2) == TaskExitMessage(pid=pid, tid=2, retcode=-1)
    assert time.monotonic() - started < 2
    assert "killing task" in Path(settings.logs_directory,
                                  f"{settings.node}-2.stderr").read_text()
    wait_exited(pid)  # a killed task's monitor does not wait for another


def test_a_task_that_leaves_a_process_running_gets_its_monitor_to_itself(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    first = waiting_monitor(handle, settings, queue, "setsid sleep 2 & exit 0")
    second = spawn(handle, TaskSpec.build(settings, tid=2, path="/bin/true"))
    assert second != first
    exit_of(queue, 2)


def test_a_large_request_gets_a_monitor_of_its_own(
    handle, settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    first = waiting_monitor(handle, settings, queue)
    large = TaskSpec.build(settings, tid=2, path="/bin/cat", stdin=b"x" * 100_000)
    assert spawn(handle, large) != first
    assert exit_of(queue, 2).retcode == 0
    assert Path(settings.logs_directory, f"{settings.node}-2.stdout").stat().st_size == 100_000
