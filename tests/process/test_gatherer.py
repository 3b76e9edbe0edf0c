"""Tests of evqueue.process.gatherer: output files → TaskExit, and the reader thread's protocol
on a real queue."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sysv_ipc

from evqueue.process.gatherer import (
    TRUNCATED_MARKER,
    UNREADABLE_OUTPUT,
    TaskExit,
    clean_text,
    read_output,
    read_task_exit,
    release_paths,
    start_gatherer,
)
from evqueue.process.ipc import (
    NotificationExitMessage,
    ProgressMessage,
    TaskExitMessage,
    send_message,
)
from evqueue.process.spec import ProcessSettings, task_file
from evqueue.process.status_file import remove_task_files


def write_outputs(settings: ProcessSettings, tid: int, stdout: bytes = b"out",
                  stderr: bytes = b"err", log: bytes = b"log") -> None:
    for kind, data in (("stdout", stdout), ("stderr", stderr), ("log", log)):
        Path(task_file(settings.logs_directory, settings.node, tid, kind)).write_bytes(data)


def test_clean_text_replaces_control_characters() -> None:
    assert clean_text(b"a\tb\r\nc\x00d\x1be\x7f") == "a\tb\r\nc?d?e\x7f"
    assert clean_text(b"caf\xc3\xa9 \xff") == "café \ufffd"


def test_read_output_truncates_with_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"0123456789abc")
    assert read_output(str(path), 10, delete=False) == "0123456789" + TRUNCATED_MARKER
    assert read_output(str(path), 13, delete=True) == "0123456789abc"
    assert not path.exists()
    assert read_output(str(path), 10, delete=True) is None


def test_read_task_exit_reads_and_keeps_until_released(settings: ProcessSettings) -> None:
    write_outputs(settings, 5)
    Path(task_file(settings.logs_directory, settings.node, 5, "status")).write_text("10\n2\n")
    result = read_task_exit(settings, TaskExitMessage(pid=10, tid=5, retcode=2))
    assert result == TaskExit(5, 10, 2, "out", "err", "log")
    assert len(list(Path(settings.logs_directory).iterdir())) == 4  # until stored
    remove_task_files(release_paths(settings, 5))  # the engine stored the result
    assert list(Path(settings.logs_directory).iterdir()) == []


def test_output_files_are_kept_when_delete_is_off(settings: ProcessSettings) -> None:
    keep = dataclasses.replace(settings, logs_delete=False)
    write_outputs(keep, 6)
    Path(task_file(settings.logs_directory, settings.node, 6, "status")).write_text("10\n0\n")
    read_task_exit(keep, TaskExitMessage(pid=10, tid=6, retcode=0))
    remove_task_files(release_paths(keep, 6))
    assert sorted(p.suffix for p in Path(settings.logs_directory).iterdir()) == [
        ".log", ".stderr", ".stdout"]  # the status file is ours: it always goes


def test_unreadable_stdout_forces_minus_one(settings: ProcessSettings) -> None:
    result = read_task_exit(settings, TaskExitMessage(pid=10, tid=404, retcode=0))
    assert result == TaskExit(404, 10, -1, UNREADABLE_OUTPUT, None, None)


async def test_gatherer_delivers_in_order_and_stops_on_its_sentinel(
    settings: ProcessSettings, queue: sysv_ipc.MessageQueue
) -> None:
    write_outputs(settings, 1, stdout=b"hello")
    received: list[object] = []
    gatherer = start_gatherer(queue, settings, received.append)
    send_message(queue, ProgressMessage(pid=9, tid=1, percent=50))
    send_message(queue, TaskExitMessage(pid=0, tid=123, retcode=0))  # someone else's sentinel
    send_message(queue, TaskExitMessage(pid=9, tid=1, retcode=0))
    send_message(queue, NotificationExitMessage(pid=8, status=2, retcode=1))
    await gatherer.stop()
    assert received == [
        ProgressMessage(pid=9, tid=1, percent=50),
        TaskExit(1, 9, 0, "hello", "err", "log"),
        NotificationExitMessage(pid=8, status=2, retcode=1),
    ]
    # Once stopped, nothing more is consumed: later exits wait in the kernel queue.
    send_message(queue, TaskExitMessage(pid=9, tid=2, retcode=0))
    assert queue.current_messages == 1
