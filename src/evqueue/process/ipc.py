"""The node's SysV message queue: key derivation, message layout, CLI helpers.

Rules:
- ``core.ipc.qid`` is read exactly as evQueue reads it: a value starting with ``/`` is a path
  turned into a key by ``ftok(path, 0xE7)`` (glibc's formula, reproduced here so no C call is
  needed), ``0x…`` is hexadecimal, anything else decimal. The key is a signed 32-bit ``key_t``.
  Unlike evQueue (where a bad value silently becomes key 0 or -1), a value that gives no usable
  key raises :class:`IpcKeyError` naming the configuration key.
- The queue is opened with mode 0700 and ``IPC_CREAT``.
- A message body is evQueue's C ``mtext``: ``struct { pid_t pid; pid_t tid; char retcode; }``,
  12 bytes with the trailing padding, in native byte order. The SysV ``long type`` travels beside
  it (sysv_ipc's ``type=`` argument). Each message type is a frozen dataclass checked when built.
- This module only does blocking calls; the engine reads the queue through
  :mod:`evqueue.process.gatherer`, never from the event loop.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import ClassVar

import sysv_ipc

from evqueue.process.errors import IpcKeyError

__all__ = [
    "DEFAULT_QID",
    "FTOK_PROJ_ID",
    "MSG_SIZE",
    "Message",
    "NotificationExitMessage",
    "ProgressMessage",
    "TaskExitMessage",
    "decode_message",
    "ftok",
    "open_queue",
    "parse_qid",
    "queue_stats",
    "remove_queue",
    "send_message",
    "send_terminate",
    "to_key_t",
]

#: evQueue's default ``core.ipc.qid``.
DEFAULT_QID = "0xEA023E3C"
#: The project id evQueue passes to ``ftok``.
FTOK_PROJ_ID = 0xE7
#: ``sizeof(mtext)``: two ``pid_t`` and a ``char``, padded to the struct's 4-byte alignment.
MSG_SIZE = 12
#: Receive buffer: larger than any message of ours, so a foreign message cannot wedge the reader.
MAX_RECEIVE_SIZE = 4096

_MTEXT = struct.Struct("=iib3x")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def to_key_t(value: int) -> int:
    """Convert a 32-bit value to the signed ``key_t`` the kernel and sysv_ipc expect.

    Args:
        value: an integer whose low 32 bits are the key.

    Returns:
        The same 32 bits as a signed integer.
    """
    value &= 0xFFFFFFFF
    return value - 2**32 if value & 0x80000000 else value


def ftok(path: str, proj_id: int = FTOK_PROJ_ID) -> int:
    """glibc's ``ftok``: ``(proj_id & 0xff) << 24 | (st_dev & 0xff) << 16 | (st_ino & 0xffff)``.

    Args:
        path: an existing file or directory.
        proj_id: the project id (evQueue uses 0xE7).

    Returns:
        The signed 32-bit key.

    Raises:
        OSError: the path cannot be stat()ed.
    """
    st = os.stat(path)
    key = ((proj_id & 0xFF) << 24) | ((st.st_dev & 0xFF) << 16) | (st.st_ino & 0xFFFF)
    return to_key_t(key)


def parse_qid(qid: str) -> int:
    """Turn a ``core.ipc.qid`` value into a SysV key.

    Args:
        qid: ``/path`` (ftok of an existing path), ``0x…`` (hex) or a decimal number.

    Returns:
        The signed 32-bit key.

    Raises:
        IpcKeyError: the path does not exist, the number is malformed, out of 32 bits, or 0
            (``IPC_PRIVATE``, which would create a new unreachable queue every time).
    """
    if qid.startswith("/"):
        try:
            return ftok(qid)
        except OSError as exc:
            raise IpcKeyError(
                f"core.ipc.qid: cannot derive an IPC key from path '{qid}' "
                f"({exc.strerror or exc}); the path must exist"
            ) from None
    try:
        value = int(qid[2:], 16) if qid[:2].lower() == "0x" else int(qid, 10)
    except ValueError:
        raise IpcKeyError(
            f"core.ipc.qid: '{qid}' is neither a path, a 0x… hex number nor a decimal number"
        ) from None
    if not _INT32_MIN <= value <= 0xFFFFFFFF:
        raise IpcKeyError(f"core.ipc.qid: '{qid}' does not fit in a 32-bit IPC key")
    if value == 0:
        raise IpcKeyError("core.ipc.qid: key 0 is IPC_PRIVATE and cannot name a shared queue")
    return to_key_t(value)


def open_queue(key: int, *, create: bool = True) -> sysv_ipc.MessageQueue:
    """Open the node's message queue (``msgget(key, 0700 | IPC_CREAT)``).

    Args:
        key: the signed key from :func:`parse_qid`.
        create: create the queue when it does not exist (evQueue always does).

    Returns:
        The sysv_ipc queue object.

    Raises:
        sysv_ipc.ExistentialError: ``create`` is false and there is no such queue.
        sysv_ipc.PermissionsError: the queue belongs to someone else.
    """
    flags = sysv_ipc.IPC_CREAT if create else 0
    return sysv_ipc.MessageQueue(key, flags, mode=0o700, max_message_size=MAX_RECEIVE_SIZE)


def _check_int32(name: str, value: int) -> None:
    if not _INT32_MIN <= value <= _INT32_MAX:
        raise ValueError(f"{name} out of pid_t range: {value}")


def _check_char(name: str, value: int) -> None:
    if not -128 <= value <= 127:
        raise ValueError(f"{name} out of signed char range: {value}")


@dataclass(frozen=True)
class TaskExitMessage:
    """Type 1: a task ended (sent by the monitor, or by ``--ipc-terminate-tid``).

    ``pid == 0`` is reserved for the engine's own shutdown sentinel.
    """

    TYPE: ClassVar[int] = 1
    pid: int
    tid: int
    retcode: int

    def __post_init__(self) -> None:
        _check_int32("pid", self.pid)
        _check_int32("tid", self.tid)
        _check_char("retcode", self.retcode)

    def pack(self) -> bytes:
        """Return the 12-byte ``mtext``."""
        return _MTEXT.pack(self.pid, self.tid, self.retcode)

    @classmethod
    def unpack(cls, data: bytes) -> TaskExitMessage:
        """Build the message from a 12-byte ``mtext``."""
        pid, tid, retcode = _unpack(data)
        return cls(pid, tid, retcode)


@dataclass(frozen=True)
class NotificationExitMessage:
    """Type 2: a notification plugin ended. The C ``tid`` field carries ``status``.

    ``status``: 0 ok, 1 killed by SIGTERM, 2 timed out, 3 could not fork; ``retcode`` is the
    plugin's exit code.
    """

    TYPE: ClassVar[int] = 2
    pid: int
    status: int
    retcode: int

    def __post_init__(self) -> None:
        _check_int32("pid", self.pid)
        _check_int32("status", self.status)
        _check_char("retcode", self.retcode)

    def pack(self) -> bytes:
        """Return the 12-byte ``mtext``."""
        return _MTEXT.pack(self.pid, self.status, self.retcode)

    @classmethod
    def unpack(cls, data: bytes) -> NotificationExitMessage:
        """Build the message from a 12-byte ``mtext``."""
        pid, status, retcode = _unpack(data)
        return cls(pid, status, retcode)


@dataclass(frozen=True)
class ProgressMessage:
    """Type 3: a task reported its progress (the C ``retcode`` field carries the percentage)."""

    TYPE: ClassVar[int] = 3
    pid: int
    tid: int
    percent: int

    def __post_init__(self) -> None:
        _check_int32("pid", self.pid)
        _check_int32("tid", self.tid)
        if not 0 <= self.percent <= 100:
            raise ValueError(f"percent out of 0-100: {self.percent}")

    def pack(self) -> bytes:
        """Return the 12-byte ``mtext``."""
        return _MTEXT.pack(self.pid, self.tid, self.percent)

    @classmethod
    def unpack(cls, data: bytes) -> ProgressMessage:
        """Build the message from a 12-byte ``mtext`` (an out-of-range value is clamped)."""
        pid, tid, percent = _unpack(data)
        return cls(pid, tid, min(max(percent, 0), 100))


Message = TaskExitMessage | NotificationExitMessage | ProgressMessage

_MESSAGE_TYPES: dict[int, type[TaskExitMessage | NotificationExitMessage | ProgressMessage]] = {
    TaskExitMessage.TYPE: TaskExitMessage,
    NotificationExitMessage.TYPE: NotificationExitMessage,
    ProgressMessage.TYPE: ProgressMessage,
}


def _unpack(data: bytes) -> tuple[int, int, int]:
    if len(data) != MSG_SIZE:
        raise ValueError(f"IPC message body must be {MSG_SIZE} bytes, got {len(data)}")
    pid, tid, char = _MTEXT.unpack(data)
    return pid, tid, char


def decode_message(mtype: int, data: bytes) -> Message:
    """Decode a received message.

    Args:
        mtype: the SysV message type.
        data: the message body.

    Returns:
        The typed message.

    Raises:
        ValueError: unknown type or wrong size.
    """
    try:
        cls = _MESSAGE_TYPES[mtype]
    except KeyError:
        raise ValueError(f"unknown IPC message type {mtype}") from None
    return cls.unpack(data)


def send_message(queue: sysv_ipc.MessageQueue, message: Message, *, block: bool = True) -> None:
    """Send a typed message.

    Args:
        queue: an open queue.
        message: the message.
        block: wait while the queue is full (otherwise raise ``sysv_ipc.BusyError``).
    """
    queue.send(message.pack(), block, message.TYPE)


def queue_stats(key: int) -> tuple[int, int]:
    """What ``evqueue --ipcq-stats`` prints.

    Args:
        key: the queue key.

    Returns:
        ``(queue_bytes, pending)``: the queue's byte capacity (``msg_qbytes``) and its number of
        pending messages (``msg_qnum``).
    """
    queue = open_queue(key)
    return queue.max_size, queue.current_messages


def remove_queue(key: int) -> bool:
    """``evqueue --ipcq-remove``: delete the queue (pending exit messages are lost).

    Args:
        key: the queue key.

    Returns:
        True if a queue existed and was removed, False if there was none.
    """
    try:
        queue = open_queue(key, create=False)
    except sysv_ipc.ExistentialError:
        return False
    try:
        queue.remove()
    except sysv_ipc.ExistentialError:
        return False
    return True


def send_terminate(key: int, tid: int) -> None:
    """``evqueue --ipc-terminate-tid``: report task ``tid`` as ended with retcode -1.

    Args:
        key: the queue key.
        tid: the task id to unstick.
    """
    send_message(open_queue(key), TaskExitMessage(pid=os.getpid(), tid=tid, retcode=-1))
