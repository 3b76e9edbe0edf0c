"""Tests of evqueue.process.manager: the engine side with a real forker, real monitors, real
tasks and the test's own IPC queue."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import select
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from evqueue.process import manager as manager_module
from evqueue.process.errors import ForkerError, TaskOutputNotFound
from evqueue.process.forker_handle import ForkerHandle, start_forker
from evqueue.process.gatherer import (
    TRUNCATED_MARKER,
    UNREADABLE_OUTPUT,
    TaskExit,
    release_paths,
)
from evqueue.process.ipc import remove_queue, send_terminate
from evqueue.process.manager import LOST_EXIT, ProcessManager, monitor_alive
from evqueue.process.spec import ProcessSettings, TaskSpec, task_file
from evqueue.process.status_file import read_status, remove_task_files
from tests.process.helpers import WAIT, Recorder, make_fifo, release_fifo

TRICKY = ["a b", "it's", '"dq"', "$HOME", "`id`", "back\\slash", "semi;colon", ""]


def sh(settings: ProcessSettings, tid: int, script: str, **kwargs: object) -> TaskSpec:
    return TaskSpec.build(settings, tid=tid, path="/bin/sh", args=["-c", script], **kwargs)


def assert_exits_soon(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        assert select.select([pidfd], [], [], WAIT)[0], f"process {pid} is still alive"
    finally:
        os.close(pidfd)


async def test_echo_arguments_arrive_unchanged(manager, settings, recorder: Recorder) -> None:
    manager.spawn(TaskSpec.build(settings, tid=1, path="/bin/echo", args=TRICKY))
    result = await recorder.exit_of(1)
    assert (result.retcode, result.stdout, result.stderr, result.log) == (
        0, " ".join(TRICKY) + "\n", "", ""
    )
    assert result.pid == recorder.started[1]
    assert recorder.order.index(("started", 1)) < recorder.order.index(("exit", 1))
    assert manager.monitor_pid(1) is None  # forgotten once ended


async def test_env_mode_parameters(manager, settings, recorder: Recorder) -> None:
    script = 'printf "%s|%s|%s|%s" "$NAME" "$DEFAULT_PARAMETER_NAME" "$EVQUEUE_ENV" ' \
             '"$EVQUEUE_IPC_QID"'
    manager.spawn(sh(settings, 2, script, env={"NAME": "v a l", "": "unnamed"}))
    assert (await recorder.exit_of(2)).stdout == "v a l|unnamed|true|0"


async def test_stdin_is_piped(manager, settings, recorder: Recorder) -> None:
    big = b"0123456789" * 100_000  # larger than a pipe buffer
    manager.spawn(TaskSpec.build(settings, tid=3, path="/bin/cat", stdin=b"line1\nline2\n"))
    manager.spawn(sh(settings, 4, "wc -c", stdin=big))
    manager.spawn(sh(settings, 5, "exit 0", stdin=big))  # never reads its stdin
    assert (await recorder.exit_of(3)).stdout == "line1\nline2\n"
    assert (await recorder.exit_of(4)).stdout.strip() == str(len(big))
    assert (await recorder.exit_of(5)).retcode == 0


@pytest.mark.parametrize(
    ("script", "retcode"),
    [("exit 0", 0), ("exit 3", 3), ("exit 200", -56), ("kill -9 $$", -1)],
)
async def test_exit_codes(manager, settings, recorder: Recorder, script: str, retcode: int) -> None:
    manager.spawn(sh(settings, 6, script))
    assert (await recorder.exit_of(6)).retcode == retcode


async def test_missing_binary(manager, settings, recorder: Recorder) -> None:
    manager.spawn(TaskSpec.build(settings, tid=7, path="/no/such/binary"))
    result = await recorder.exit_of(7)
    assert result.retcode == -1
    assert result.stderr == "Could not execute process: '/no/such/binary'\n"


async def test_progress_arrives_while_the_task_runs(
    manager, settings, recorder: Recorder, tmp_path: Path
) -> None:
    fifo = make_fifo(tmp_path / "hold")
    manager.spawn(sh(settings, 8, f"echo %50 >&3; read x < {fifo}; echo %%done >&3"))
    assert await recorder.progress_of(8) == 50
    assert 8 not in recorder.exits and monitor_alive(recorder.started[8])
    await release_fifo(fifo)
    result = await recorder.exit_of(8)
    assert (result.retcode, result.log) == (0, "%done\n")


async def test_close_stops_the_log(manager, settings, recorder: Recorder) -> None:
    manager.spawn(sh(settings, 9, r"printf 'kept\n\\close\n%%70\nlost\n' >&3"))
    result = await recorder.exit_of(9)
    assert result.log == "kept\n"
    assert (9, 70) not in recorder.progress


async def test_merge_stderr(manager, settings, recorder: Recorder) -> None:
    manager.spawn(sh(settings, 10, "echo out; echo err >&2", merge_stderr=True))
    result = await recorder.exit_of(10)
    assert (result.stdout, result.stderr) == ("out\nerr\n", "")


async def test_relative_path_is_resolved_against_tasks_directory(
    manager, settings, recorder: Recorder
) -> None:
    task = Path(settings.tasks_directory) / "hello.sh"
    task.write_text('#!/bin/sh\necho "hello $1 from $(pwd)"\n')
    task.chmod(0o755)
    manager.spawn(TaskSpec.build(settings, tid=11, path="hello.sh", args=["you"]))
    assert (await recorder.exit_of(11)).stdout == f"hello you from {settings.core_wd}\n"
    # evQueue's default tasks directory "." resolves against the task's working directory.
    dotted = dataclasses.replace(settings, tasks_directory=".")
    manager.spawn(TaskSpec.build(dotted, tid=12, path="hello.sh", wd=settings.tasks_directory))
    assert (await recorder.exit_of(12)).stdout.startswith("hello  from ")


async def test_script_task(manager, settings, recorder: Recorder) -> None:
    spec = TaskSpec.build(settings, tid=13, script="#!/bin/sh\necho \"script $1\"\n", args=["x"])
    manager.spawn(spec)
    assert (await recorder.exit_of(13)).stdout == "script x\n"
    assert not os.path.exists(spec.script_path)


async def test_kill_leaves_nothing_of_the_group_alive(
    manager, settings, recorder: Recorder
) -> None:
    # The shell ignores SIGTERM and has a background child in its process group.
    script = 'trap "" TERM; sleep 300 & echo "$$ $!"; echo %1 >&3; wait; wait'
    manager.spawn(sh(settings, 14, script))
    await recorder.progress_of(14)
    shell, child = (int(pid) for pid in manager.tail(14, "stdout").split())
    assert manager.kill(14) is True
    result = await recorder.exit_of(14)
    assert result.retcode == -1
    assert "received SIGTERM" in (result.stderr or "")
    assert_exits_soon(shell)
    assert_exits_soon(child)


async def test_kill_requested_before_the_monitor_exists(manager, settings, recorder) -> None:
    manager.spawn(sh(settings, 15, "exec sleep 300"))
    assert manager.kill(15) is True  # the forker has not answered yet
    assert (await recorder.exit_of(15)).retcode == -1


async def test_kill_unknown_task(manager) -> None:
    assert manager.kill(999) is False
    assert manager.kill(999, pid=os.getpid()) is False  # not a monitor


async def test_tail_returns_live_output(manager, settings, recorder, tmp_path: Path) -> None:
    fifo = make_fifo(tmp_path / "hold")
    script = f"echo first; echo second; echo err >&2; echo to-log >&3; echo %5 >&3; read x < {fifo}"
    manager.spawn(sh(settings, 16, script))
    await recorder.progress_of(16)
    assert manager.tail(16, "stdout") == "first\nsecond\n"
    assert manager.tail(16, "stdout", size=7) == "second\n"
    assert manager.tail(16, "stderr") == "err\n"
    assert manager.tail(16, "log") == "to-log\n"
    await release_fifo(fifo)
    await recorder.exit_of(16)
    assert manager.tail(16, "stdout") == "first\nsecond\n"  # kept until the result is stored
    remove_task_files(release_paths(settings, 16))
    with pytest.raises(TaskOutputNotFound):
        manager.tail(16, "stdout")
    with pytest.raises(ValueError):
        manager.tail(16, "other")


async def test_output_is_bounded(settings, recorder: Recorder) -> None:
    small = dataclasses.replace(settings, max_output=10)
    pm = recorder.manager(small)
    await pm.start()
    try:
        pm.spawn(sh(small, 17, "echo 0123456789abcdef"))
        assert (await recorder.exit_of(17)).stdout == "0123456789" + TRUNCATED_MARKER
    finally:
        await pm.stop()


async def test_unknown_tids_are_passed_along(manager, settings, recorder: Recorder) -> None:
    send_terminate(settings.ipc_key, 4242)
    result = await recorder.exit_of(4242)
    assert (result.retcode, result.stdout) == (-1, UNREADABLE_OUTPUT)


async def test_two_nodes_on_one_machine_do_not_collide(settings, tmp_path: Path) -> None:
    other_dir = tmp_path / "node2"
    other_dir.mkdir()
    other = dataclasses.replace(
        settings, node="node2", ipc_key=settings.ipc_key ^ 0x5A5A, forker_pidfile=""
    )
    first, second = Recorder(), Recorder()
    managers = [first.manager(settings), second.manager(other)]
    for pm in managers:
        await pm.start()
    try:
        # Same tid, same logs directory: each node sees only its own task.
        managers[0].spawn(sh(settings, 1, "echo node1"))
        managers[1].spawn(sh(other, 1, "echo node2"))
        assert (await first.exit_of(1)).stdout == "node1\n"
        assert (await second.exit_of(1)).stdout == "node2\n"
    finally:
        for pm in managers:
            await pm.stop()
        remove_queue(other.ipc_key)


async def test_engine_restart_keeps_running_tasks(settings, tmp_path: Path) -> None:
    fifo = make_fifo(tmp_path / "hold")
    before = Recorder()
    forker = start_forker(settings.forker_pidfile)
    pm = before.manager(settings, forker=forker)
    await pm.start()
    pm.spawn(sh(settings, 21, f"echo started; read x < {fifo}; echo done; exit 4"))
    await before.until(lambda: 21 in before.started)
    monitor = before.started[21]
    await pm.stop()
    forker.close()  # the engine is gone: the forker sees EOF and exits
    assert not forker.alive()
    assert monitor_alive(monitor)

    await release_fifo(fifo)  # the task ends while no engine is running
    assert_exits_soon(monitor)

    after = Recorder()
    new_pm = after.manager(settings)
    await new_pm.start()
    try:
        result = await after.exit_of(21)
        assert (result.pid, result.retcode, result.stdout) == (monitor, 4, "started\ndone\n")
    finally:
        await new_pm.stop()


async def test_spawn_requires_a_started_manager(settings, recorder: Recorder) -> None:
    pm = recorder.manager(settings)
    with pytest.raises(ForkerError):
        pm.spawn(sh(settings, 1, "exit 0"))


async def test_duplicate_tid_is_refused(manager, settings, tmp_path: Path, recorder) -> None:
    fifo = make_fifo(tmp_path / "hold")
    manager.spawn(sh(settings, 30, f"read x < {fifo}"))
    with pytest.raises(ValueError, match="already running"):
        manager.spawn(sh(settings, 30, "exit 0"))
    await release_fifo(fifo)
    await recorder.exit_of(30)


async def test_callbacks_errors_do_not_stop_delivery(settings) -> None:
    recorder = Recorder()

    def failing_exit(result: TaskExit) -> None:
        recorder.on_exit(result)
        raise RuntimeError("engine bug")

    pm = ProcessManager(settings, failing_exit, recorder.on_progress)
    await pm.start()
    try:
        pm.spawn(sh(settings, 40, "echo %10 >&3"))
        pm.spawn(sh(settings, 41, "exit 0"))
        await recorder.until(lambda: {40, 41} <= set(recorder.exits))
    finally:
        await pm.stop()
    assert await recorder.progress_of(40) == 10


def forker_that_dies(settings: ProcessSettings, *, fork: bool) -> ForkerHandle:
    """A forker that reads one request, forks its monitor (or not), and dies unanswered."""
    code = ("import os, sys\n"
            "from evqueue.process.forker import REQUEST, _fork_monitor\n"
            "tid, size = REQUEST.unpack(sys.stdin.buffer.read(REQUEST.size))\n"
            "payload = sys.stdin.buffer.read(size)\n"
            f"{'_fork_monitor(payload)' if fork else 'pass'}\n"
            "os._exit(0)\n")
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    popen = subprocess.Popen([sys.executable, "-c", code], stdin=request_r, stdout=reply_w)
    os.close(request_r)
    os.close(reply_w)
    return ForkerHandle(pid=popen.pid, request_fd=request_w, reply_fd=reply_r, _popen=popen,
                        _recipe={"pidfile": settings.forker_pidfile})


async def wait_until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_dead_forker_is_replaced_and_running_tasks_still_report(
        settings, tmp_path: Path) -> None:
    fifo = make_fifo(tmp_path / "hold")
    recorder, lost = Recorder(), asyncio.Event()
    pm = recorder.manager(settings, on_forker_lost=lost.set)
    await pm.start()
    try:
        pm.spawn(sh(settings, 50, f"read x < {fifo}; echo first"))
        await recorder.until(lambda: 50 in recorder.started)
        old = int(Path(settings.forker_pidfile).read_text())
        os.kill(old, signal.SIGKILL)
        await asyncio.wait_for(lost.wait(), WAIT)
        pm.spawn(sh(settings, 51, "echo second"))  # waits for the new forker, never fails
        assert (await recorder.exit_of(51)).stdout == "second\n"
        await release_fifo(fifo)
        assert (await recorder.exit_of(50)).stdout == "first\n"
        new = int(Path(settings.forker_pidfile).read_text())
        assert new != old and pm.forker_running and pm.forker_restarts == 1
    finally:
        await pm.stop()
    assert_exits_soon(new)  # the manager stops the forkers it started


async def test_spawns_wait_while_no_forker_can_be_started(settings) -> None:
    recorder, attempts, allowed = Recorder(), [], []

    def restart(previous: ForkerHandle | None) -> ForkerHandle:
        attempts.append(previous)
        if not allowed:
            raise OSError(errno.EAGAIN, "no process for now")
        return start_forker(settings.forker_pidfile)

    pm = recorder.manager(settings, restart_forker=restart)
    await pm.start()
    try:
        pm.spawn(sh(settings, 55, "exit 0"))
        await recorder.exit_of(55)  # the forker answered: its pidfile is written
        assert pm.forker_running
        os.kill(int(Path(settings.forker_pidfile).read_text()), signal.SIGKILL)
        await wait_until(lambda: len(attempts) >= 1)
        assert not pm.forker_running
        pm.spawn(sh(settings, 52, "echo waited"))
        assert 52 not in recorder.started and 52 not in recorder.exits
        allowed.append(True)
        assert (await recorder.exit_of(52)).stdout == "waited\n"
        assert pm.forker_running
    finally:
        await pm.stop()
    assert not pm.forker_running


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "not-forked"])
async def test_the_last_request_of_a_dead_forker_runs_once(
        settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool) -> None:
    monkeypatch.setattr(manager_module, "DOUBT_GRACE", 0.5)
    runs = tmp_path / "runs"
    recorder = Recorder()
    pm = recorder.manager(settings, forker=forker_that_dies(settings, fork=forked),
                          restart_forker=lambda _: start_forker(settings.forker_pidfile))
    await pm.start()
    try:
        pm.spawn(sh(settings, 53, f"echo 53 >> {runs}"))
        pm.spawn(sh(settings, 54, f"echo 54 >> {runs}"))  # never read by the dying forker
        await recorder.until(lambda: {53, 54} <= set(recorder.exits))
        assert {recorder.exits[tid].retcode for tid in (53, 54)} == {0}
        assert recorder.order.index(("started", 53)) < recorder.order.index(("exit", 53))
    finally:
        await pm.stop()
    assert sorted(runs.read_text().split()) == ["53", "54"], "each task ran once"


async def test_remote_task_through_agent(settings, recorder: Recorder, tmp_path: Path) -> None:
    ssh = tmp_path / "ssh"
    ssh.write_text('#!/bin/sh\nwhile [ $# -gt 1 ]; do shift; done\nexec /bin/sh -c "$1"\n')
    ssh.chmod(0o755)
    remote = dataclasses.replace(
        settings, ssh_path=str(ssh), agent_path=f"{sys.executable} -m evqueue.process.agent"
    )
    pm = recorder.manager(remote)
    await pm.start()
    try:
        script = 'echo "$1|$V"; echo %60 >&3; echo log >&3'
        pm.spawn(TaskSpec.build(remote, tid=60, path="/bin/sh", args=["-c", script, "sh", "it's"],
                                host="h", use_agent=True, env={"V": "v"}))
        result = await recorder.exit_of(60)
    finally:
        await pm.stop()
    assert (result.retcode, result.stdout, result.log) == (0, "it's|v\n", "log\n")
    assert (60, 60) in recorder.progress


async def test_sync_returns_once_the_waiting_exits_are_delivered(settings) -> None:
    # exits queued while no engine reads them (a restart) are all delivered before sync() ends
    for tid in (71, 72, 73):
        send_terminate(settings.ipc_key, tid)
    recorder = Recorder()
    pm = recorder.manager(settings)
    await pm.start()
    try:
        await pm.sync()
        assert {71, 72, 73} <= set(recorder.exits)
    finally:
        await pm.stop()


async def test_lost_exit_reads_what_is_left_of_the_output(manager, settings) -> None:
    Path(task_file(settings.logs_directory, settings.node, 74, "stdout")).write_text("partial\n")
    item = await manager.lost_exit(74, 12345)
    assert (item.tid, item.retcode, item.stdout) == (74, -1, "partial\n")
    assert item.stderr is not None and item.stderr.endswith(LOST_EXIT + "\n")


async def test_an_exit_taken_off_the_queue_is_rebuilt_from_the_status_file(
        manager, settings, recorder) -> None:
    # The exit message is read (as by an engine killed before storing the result); the
    # monitor's status file and the output files still tell the whole result.
    manager.spawn(sh(settings, 76, "echo done; exit 3"))
    first = await recorder.exit_of(76)
    status = read_status(task_file(settings.logs_directory, settings.node, 76, "status"))
    assert status is not None and (status.pid, status.retcode) == (first.pid, 3)
    item = await manager.lost_exit(76, first.pid)
    assert (item.retcode, item.stdout, item.stderr) == (3, "done\n", "")
    remove_task_files(release_paths(settings, 76))
    assert not any(Path(settings.logs_directory).glob(f"{settings.node}-76.*"))


async def test_tail_of_a_task_just_spawned_is_empty(manager, settings, recorder) -> None:
    manager.spawn(sh(settings, 75, "exit 0"))
    # the monitor may not exist yet, let alone its files: no output so far, not an error
    assert manager.tail(75, "stdout") == ""
    await recorder.exit_of(75)


async def test_stop_waits_for_the_forkers_answer_to_pending_spawns(settings) -> None:
    recorder = Recorder()
    pm = recorder.manager(settings)
    await pm.start()
    pm.spawn(sh(settings, 76, "exit 0"))
    await pm.stop()  # right away: the reply is not read yet
    assert 76 in recorder.started, "a task that was forked is always reported started"
