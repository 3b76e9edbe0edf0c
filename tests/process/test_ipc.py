"""Tests of evqueue.process.ipc: keys (against the C library), message bytes, real queues."""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

import pytest
import sysv_ipc

from evqueue.process.errors import IpcKeyError
from evqueue.process.ipc import (
    MSG_SIZE,
    NotificationExitMessage,
    ProgressMessage,
    TaskExitMessage,
    decode_message,
    ftok,
    open_queue,
    parse_qid,
    queue_stats,
    remove_queue,
    send_message,
    send_terminate,
    to_key_t,
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ftok.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.ftok.restype = ctypes.c_int


def libc_ftok(path: str) -> int:
    return int(_libc.ftok(path.encode(), 0xE7))


# -- keys ------------------------------------------------------------------------------------


def test_ftok_matches_libc_for_two_directories(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    for directory in (first, second, tmp_path, Path("/")):
        assert ftok(str(directory)) == libc_ftok(str(directory))
    assert ftok(str(first)) != ftok(str(second))


def test_parse_qid_path_uses_ftok(tmp_path: Path) -> None:
    assert parse_qid(str(tmp_path)) == libc_ftok(str(tmp_path))


def test_parse_qid_hex_default_is_a_signed_key_t() -> None:
    # 0xEA023E3C has its top bit set: key_t is signed, as strtol → key_t gives in C.
    assert parse_qid("0xEA023E3C") == 0xEA023E3C - 2**32
    assert parse_qid("0x10") == 16


def test_parse_qid_decimal() -> None:
    assert parse_qid("1234") == 1234
    assert parse_qid("-5") == -5


def test_parse_qid_missing_path_names_path_and_key(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(IpcKeyError) as error:
        parse_qid(missing)
    assert missing in str(error.value)
    assert "core.ipc.qid" in str(error.value)


@pytest.mark.parametrize("value", ["abc", "0xZZ", "", "0", "0x100000000"])
def test_parse_qid_rejects_unusable_values(value: str) -> None:
    with pytest.raises(IpcKeyError, match="core.ipc.qid"):
        parse_qid(value)


def test_to_key_t_wraps_32_bits() -> None:
    assert to_key_t(0xFFFFFFFF) == -1
    assert to_key_t(0x7FFFFFFF) == 2**31 - 1


# -- message layout --------------------------------------------------------------------------


def test_task_exit_message_bytes_match_c_struct() -> None:
    message = TaskExitMessage(pid=0x01020304, tid=42, retcode=-1)
    data = message.pack()
    assert len(data) == MSG_SIZE == 12
    # struct { pid_t pid; pid_t tid; char retcode; } + 3 bytes of padding, native order.
    assert data == struct.pack("=ii", 0x01020304, 42) + b"\xff\x00\x00\x00"
    assert TaskExitMessage.unpack(data) == message
    assert TaskExitMessage.TYPE == 1


def test_progress_and_notification_messages_share_the_layout() -> None:
    progress = ProgressMessage(pid=7, tid=9, percent=100)
    assert progress.pack() == struct.pack("=iib3x", 7, 9, 100)
    assert ProgressMessage.TYPE == 3
    notification = NotificationExitMessage(pid=7, status=2, retcode=1)
    assert notification.pack() == struct.pack("=iib3x", 7, 2, 1)
    assert NotificationExitMessage.TYPE == 2


def test_decode_message_dispatches_on_type() -> None:
    body = struct.pack("=iib3x", 5, 6, 7)
    assert decode_message(1, body) == TaskExitMessage(5, 6, 7)
    assert decode_message(2, body) == NotificationExitMessage(5, 6, 7)
    assert decode_message(3, body) == ProgressMessage(5, 6, 7)
    with pytest.raises(ValueError, match="type"):
        decode_message(4, body)
    with pytest.raises(ValueError, match="12 bytes"):
        decode_message(1, body[:11])


def test_messages_are_checked_when_built() -> None:
    with pytest.raises(ValueError):
        TaskExitMessage(pid=1, tid=1, retcode=200)
    with pytest.raises(ValueError):
        ProgressMessage(pid=1, tid=1, percent=101)


# -- real queues -----------------------------------------------------------------------------


def test_queues_of_two_directories_are_separate(tmp_path: Path) -> None:
    dirs = [tmp_path / "node1", tmp_path / "node2"]
    keys = []
    for directory in dirs:
        directory.mkdir()
        keys.append(parse_qid(str(directory)))
        remove_queue(keys[-1])
    try:
        first, second = (open_queue(key) for key in keys)
        assert first.id != second.id
        send_message(first, TaskExitMessage(pid=1, tid=2, retcode=3))
        with pytest.raises(sysv_ipc.BusyError):
            second.receive(block=False)
        data, mtype = first.receive(block=False)
        assert decode_message(mtype, data) == TaskExitMessage(1, 2, 3)
    finally:
        for key in keys:
            remove_queue(key)


def test_queue_is_created_with_mode_0700(ipc_key: int) -> None:
    assert open_queue(ipc_key).mode & 0o777 == 0o700


def test_queue_stats_counts_pending_messages(ipc_key: int) -> None:
    queue = open_queue(ipc_key)
    capacity, pending = queue_stats(ipc_key)
    assert capacity > 0 and pending == 0
    send_message(queue, ProgressMessage(1, 1, 10))
    assert queue_stats(ipc_key)[1] == 1


def test_send_terminate_sends_a_type_1_exit_from_our_pid(ipc_key: int) -> None:
    send_terminate(ipc_key, 77)
    data, mtype = open_queue(ipc_key).receive(block=False)
    assert decode_message(mtype, data) == TaskExitMessage(pid=os.getpid(), tid=77, retcode=-1)


def test_remove_queue(ipc_key: int) -> None:
    open_queue(ipc_key)
    assert remove_queue(ipc_key) is True
    assert remove_queue(ipc_key) is False
    with pytest.raises(sysv_ipc.ExistentialError):
        open_queue(ipc_key, create=False)
