"""The gatherer: the one reader of the node's SysV queue, and the reading of a task's files.

SysV message queues cannot be polled, so a blocking ``msgrcv`` has to happen somewhere. It
happens here, in ONE dedicated thread started by :func:`start_gatherer` — the only thread of the
process layer. Rules:

- The thread blocks every signal (they belong to the loop's thread), receives, and for a task
  exit it also reads the task's three files, so no file I/O ever runs on the event loop. It
  deletes nothing: a task's files stay until the engine has stored its result
  (:func:`release_paths`), so that an engine killed in between finds them again. Each result
  is handed to the loop with ``call_soon_threadsafe``.
- It stops on its own sentinel: a type-1 message with ``pid == 0`` and ``tid`` equal to this
  gatherer's random token (:meth:`Gatherer.stop` sends it). Messages queued before the sentinel
  are delivered first. A stale sentinel of another engine run is dropped.
- :meth:`Gatherer.sync` sends a marker the same way (``pid == 0``, a fresh token) and returns
  once it came back: every message queued before it has then been delivered.
- Output text is bounded (``max_output`` bytes per file, then ``...TRUNCATED...``), decoded as
  UTF-8 with replacement, and control characters other than ``\\t \\r \\n`` become ``?``.
- An unreadable stdout file forces retcode -1 (evQueue's rule, so that subjobs do not run).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

import sysv_ipc

from evqueue.process.ipc import (
    Message,
    NotificationExitMessage,
    ProgressMessage,
    TaskExitMessage,
    decode_message,
    send_message,
)
from evqueue.process.spec import KILL_KIND, ProcessSettings, task_file

__all__ = [
    "TRUNCATED_MARKER",
    "Delivery",
    "UNREADABLE_OUTPUT",
    "Gatherer",
    "TaskExit",
    "clean_text",
    "read_output",
    "read_task_exit",
    "release_paths",
    "start_gatherer",
]

logger = logging.getLogger(__name__)

TRUNCATED_MARKER = "...TRUNCATED..."
UNREADABLE_OUTPUT = (
    "[ ProcessManager ] Could not read task log, setting retcode to -1 to block subjobs"
)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class TaskExit:
    """A finished task, with its captured output.

    ``stderr`` and ``log`` are None when their file could not be read.
    """

    tid: int
    pid: int
    retcode: int
    stdout: str
    stderr: str | None
    log: str | None


def clean_text(data: bytes) -> str:
    """Decode task output for the instance XML (UTF-8, control characters → ``?``)."""
    return _CONTROL_CHARS.sub("?", data.decode("utf-8", "replace"))


def read_output(path: str, limit: int, *, delete: bool) -> str | None:
    """Read one output file, bounded.

    Args:
        path: the file.
        limit: maximum number of bytes kept; beyond it the text ends with ``...TRUNCATED...``.
        delete: unlink the file afterwards.

    Returns:
        The cleaned text, or None when the file cannot be read.
    """
    # os.open/os.read: no file object for a file read once (three per task), and reads
    # sized by the file, not by the limit (a buffer of the limit, 50 MB, at every read).
    chunks: list[bytes] = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            remaining = limit + 1
            hint = os.fstat(fd).st_size + 1
            while remaining > 0:
                chunk = os.read(fd, min(remaining, hint))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        finally:
            os.close(fd)
    except OSError:
        return None
    finally:
        if delete:
            with contextlib.suppress(OSError):
                os.unlink(path)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > limit:
        return clean_text(data[:limit]) + TRUNCATED_MARKER
    return clean_text(data)


def read_task_exit(settings: ProcessSettings, message: TaskExitMessage) -> TaskExit:
    """Build the :class:`TaskExit` of an exit message by reading the task's files.

    Args:
        settings: the node's settings (logs directory, delete flag, size limit).
        message: the type-1 message.

    Returns:
        The exit with stdout, stderr and log.
    """

    def read(kind: str) -> str | None:
        # Never deleted here: the files stay until the result is stored (release_paths).
        path = task_file(settings.logs_directory, settings.node, message.tid, kind)
        return read_output(path, settings.max_output, delete=False)

    stdout, stderr, log = read("stdout"), read("stderr"), read("log")
    retcode = message.retcode
    if stdout is None:
        stdout, retcode = UNREADABLE_OUTPUT, -1
    return TaskExit(message.tid, message.pid, retcode, stdout, stderr, log)


def release_paths(settings: ProcessSettings, tid: int) -> list[str]:
    """The files of task ``tid`` to remove once its result is stored: its status file (and
    kill request, if any), and its output files when ``processmanager.logs.delete``."""
    kinds = ["status", KILL_KIND]
    if settings.logs_delete:
        kinds += ["stdout", "stderr", "log"]
    return [task_file(settings.logs_directory, settings.node, tid, kind) for kind in kinds]


#: What the gatherer hands to the loop.
Delivery = TaskExit | ProgressMessage | NotificationExitMessage


class Gatherer:
    """The reader thread and its stop protocol. Create it with :func:`start_gatherer`."""

    def __init__(
        self,
        queue: sysv_ipc.MessageQueue,
        settings: ProcessSettings,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[Delivery], None],
    ) -> None:
        self._queue = queue
        self._settings = settings
        self._loop = loop
        self._deliver = deliver
        self._token = secrets.randbelow(2**31 - 1) + 1
        self._markers: dict[int, asyncio.Future[None]] = {}  # sync() tokens, loop side only
        self._finished = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="evqueue-gatherer", daemon=True)

    def _prepare(self, message: Message) -> Delivery | None:
        if isinstance(message, TaskExitMessage):
            if message.pid == 0:
                return None  # a sentinel (ours is handled by the caller)
            return read_task_exit(self._settings, message)
        return message

    def _receive(self) -> Message | None:
        """Blocking receive; None when the queue is gone."""
        while True:
            try:
                data, mtype = self._queue.receive()
            except sysv_ipc.ExistentialError:
                logger.error("IPC queue removed, no more task exits will be received")
                return None
            try:
                return decode_message(mtype, data)
            except ValueError as exc:
                logger.warning("dropped an invalid IPC message: %s", exc)

    def _run(self) -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        try:
            while (message := self._receive()) is not None:
                if isinstance(message, TaskExitMessage) and message.pid == 0:
                    if message.tid == self._token:
                        break
                    self._loop.call_soon_threadsafe(self._marker_back, message.tid)
                    continue
                item = self._prepare(message)
                if item is not None:
                    self._loop.call_soon_threadsafe(self._deliver, item)
        except Exception:
            logger.exception("IPC gatherer failed")
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._finished.set)

    def _marker_back(self, token: int) -> None:
        marker = self._markers.pop(token, None)
        if marker is None:
            logger.debug("dropped a stale gatherer marker (%d)", token)
        elif not marker.done():
            marker.set_result(None)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    async def sync(self) -> None:
        """Return once every message queued before this call has been delivered."""
        if not self._thread.is_alive():
            return
        token = secrets.randbelow(2**31 - 1) + 1
        marker = self._loop.create_future()
        self._markers[token] = marker
        try:
            send_message(self._queue, TaskExitMessage(pid=0, tid=token, retcode=0))
        except sysv_ipc.ExistentialError:
            self._markers.pop(token, None)
            return
        # the thread ends (queue removed, stop()) without echoing it: do not wait forever
        finished = asyncio.ensure_future(self._finished.wait())
        try:
            await asyncio.wait({marker, finished}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            finished.cancel()
            self._markers.pop(token, None)

    async def stop(self) -> None:
        """Wake the thread with the sentinel and wait until everything it received is delivered."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(sysv_ipc.ExistentialError):
            send_message(self._queue, TaskExitMessage(pid=0, tid=self._token, retcode=0))
        await self._finished.wait()
        self._thread.join()


def start_gatherer(
    queue: sysv_ipc.MessageQueue,
    settings: ProcessSettings,
    deliver: Callable[[Delivery], None],
) -> Gatherer:
    """Start reading the queue in a dedicated thread; results reach ``deliver`` on this loop.

    This is the process layer's one use of a thread: ``msgrcv`` blocks and cannot be polled.
    Must be called from a coroutine (it binds to the running loop).

    Args:
        queue: the node's queue.
        settings: the node's settings (where the task files are).
        deliver: called on the loop with each :class:`TaskExit`, ``ProgressMessage`` or
            ``NotificationExitMessage``, in queue order.

    Returns:
        The running gatherer; ``await gatherer.stop()`` to end it.
    """
    gatherer = Gatherer(queue, settings, asyncio.get_running_loop(), deliver)
    gatherer.start()
    return gatherer
