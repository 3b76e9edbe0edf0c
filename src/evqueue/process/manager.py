"""The engine's side of process management (asyncio): spawn, kill, tail, and exit delivery.

Rules:
- Nothing here blocks the event loop: spawn requests go to the forker through a non-blocking
  pipe transport, the forker's replies (monitor pids) come back through a read-pipe transport,
  and the SysV queue is read by the gatherer thread (:mod:`evqueue.process.gatherer`).
- Callbacks run on the loop: ``on_started(tid, pid)`` once the forker has forked the monitor,
  ``on_progress(tid, percent)``, ``on_exit(TaskExit)``. For a task spawned by this manager,
  ``on_started`` always comes before its progress and exit (they are held back until the
  forker's reply arrives).
- Exits of tasks this manager did not spawn (an engine restart: they waited in the kernel queue)
  are delivered like any other; the engine maps tid → task and decides.
- ``kill(tid)`` sends SIGTERM to the monitor, which SIGKILLs the task's process group and still
  reports the exit.
- A forker that dies is replaced at once (:meth:`ForkerHandle.restart`, backing off when new
  ones die again quickly). Meanwhile spawns wait in the manager and go to the new forker;
  :attr:`ProcessManager.forker_running` is False. Running tasks are not concerned: their
  monitors report through the SysV queue. The forker answers requests in order, so of the
  requests it had not answered only the oldest may have been forked: that one is adopted if
  its monitor shows up (status file, or its exit) within :data:`DOUBT_GRACE` seconds, and
  sent again otherwise; the others are sent again at once.
- ``tail`` reads at most ``processmanager.logs.tailsize`` bytes of a local file, directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from evqueue.process.errors import ForkerError, TaskOutputNotFound
from evqueue.process.forker import FORKER_NAME, REPLY, encode_request
from evqueue.process.forker_handle import ForkerHandle, start_forker
from evqueue.process.gatherer import (
    Delivery,
    Gatherer,
    TaskExit,
    clean_text,
    read_task_exit,
    start_gatherer,
)
from evqueue.process.ipc import (
    NotificationExitMessage,
    ProgressMessage,
    TaskExitMessage,
    open_queue,
)
from evqueue.process.monitor import MONITOR_NAME
from evqueue.process.spec import KILL_KIND, OUTPUT_KINDS, ProcessSettings, TaskSpec, task_file
from evqueue.process.status_file import STATUS_KIND, read_status

__all__ = [
    "DOUBT_GRACE",
    "LOST_EXIT",
    "REPLY_WAIT",
    "ProcessManager",
    "TaskExit",
    "monitor_alive",
]

logger = logging.getLogger(__name__)

#: Appended to the stderr of a task whose exit was lost (:meth:`ProcessManager.lost_exit`).
LOST_EXIT = ("[ ProcessManager ] The task's monitor ended while the engine was down without "
             "recording its exit, setting retcode to -1")
#: Seconds :meth:`ProcessManager.stop` waits for the forker's replies to pending spawns.
REPLY_WAIT = 5.0
#: Seconds a dead forker's last request waits for its monitor to show up before it is sent again.
DOUBT_GRACE = 5.0
#: Delay before starting another forker when the previous one lived less than
#: :data:`_FLAPPING` seconds: doubled each time, up to :data:`_RESTART_DELAY_MAX`.
_RESTART_DELAY_MIN = 0.1
_RESTART_DELAY_MAX = 5.0
_FLAPPING = 10.0
_POLL = 0.02

ExitCallback = Callable[[TaskExit], None]
ProgressCallback = Callable[[int, int], None]
StartedCallback = Callable[[int, int], None]
NotificationCallback = Callable[[NotificationExitMessage], None]
LostCallback = Callable[[], None]
ForkerStarter = Callable[[ForkerHandle | None], ForkerHandle]


def _restart_forker(previous: ForkerHandle | None) -> ForkerHandle:
    """Default forker starter for a restart: like the previous one."""
    if previous is None:
        raise ForkerError("no forker to restart")
    return previous.restart()


def _process_state(pid: int) -> tuple[bytes, str] | None:
    """(state letter, comm) of a process, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
        with open(f"/proc/{pid}/comm", "rb") as comm:
            name = comm.read().strip().decode("utf-8", "replace")
    except (OSError, IndexError):
        return None
    return state, name


def monitor_alive(pid: int) -> bool:
    """True if ``pid`` is a live monitor (used to re-attach to tasks after a restart).

    Args:
        pid: the monitor pid stored with the task.

    Returns:
        Whether that process exists, is not a zombie, and is named ``evq_monitor``.
    """
    info = _process_state(pid) if pid > 0 else None
    return info is not None and info[0] != b"Z" and info[1] == MONITOR_NAME


def _own_monitor_alive(pid: int) -> bool:
    """Like :func:`monitor_alive`, also accepting a monitor so new it still has the forker's
    name. Checked before signalling, so a pid reused after the monitor ended is never hit."""
    info = _process_state(pid)
    return info is not None and info[0] != b"Z" and info[1] in (MONITOR_NAME, FORKER_NAME)


class _PipeProtocol(asyncio.Protocol):
    """Base of the two pipe protocols: ``closed`` resolves once the pipe's fd is closed."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class _ReplyProtocol(_PipeProtocol):
    """Reads the forker's ``(tid, pid)`` replies."""

    def __init__(self, manager: ProcessManager) -> None:
        super().__init__()
        self._manager = manager
        self._buffer = bytearray()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= REPLY.size:
            tid, pid = REPLY.unpack_from(self._buffer)
            del self._buffer[: REPLY.size]
            self._manager._on_reply(tid, pid)

    def eof_received(self) -> bool | None:
        self._manager._forker_gone()
        return None


class ProcessManager:
    """Spawns tasks through the forker and delivers their progress and exits."""

    def __init__(
        self,
        settings: ProcessSettings,
        on_exit: ExitCallback,
        on_progress: ProgressCallback,
        *,
        on_started: StartedCallback | None = None,
        on_notification_exit: NotificationCallback | None = None,
        on_forker_lost: LostCallback | None = None,
        forker: ForkerHandle | None = None,
        restart_forker: ForkerStarter = _restart_forker,
    ) -> None:
        """Create the manager (nothing starts before :meth:`start`).

        Args:
            settings: the node's process settings.
            on_exit: called with each finished task.
            on_progress: called with ``(tid, percent)``.
            on_started: called with ``(tid, monitor_pid)`` once the monitor exists.
            on_notification_exit: called with type-2 messages (notification plugins).
            on_forker_lost: called when the forker exits while the manager runs (a new one is
                being started; spawns wait for it).
            forker: an already started forker (started before daemonizing); None → this
                manager starts one in :meth:`start`. The forkers this manager starts (that one,
                and every replacement) are stopped by :meth:`stop`.
            restart_forker: starts the replacement of a dead forker, given the dead one's
                handle (default: :meth:`ForkerHandle.restart`).
        """
        self.settings = settings
        self._on_exit = on_exit
        self._on_progress = on_progress
        self._on_started = on_started
        self._on_notification_exit = on_notification_exit
        self._on_forker_lost = on_forker_lost
        self._restart_forker = restart_forker
        self._forker = forker
        self._owns_forker = forker is None
        self._requests: asyncio.WriteTransport | None = None
        self._replies: asyncio.ReadTransport | None = None
        self._pipes: list[_PipeProtocol] = []
        self._gatherer: Gatherer | None = None
        self._running = False  # between start() and stop()
        self._forker_up = False
        self._forker_since = 0.0  # monotonic time the current forker was attached
        self._restart_delay = 0.0
        self._background: set[asyncio.Task[None]] = set()
        #: Forkers started to replace a dead one.
        self.forker_restarts = 0
        self._monitors: dict[int, int] = {}  # tid → monitor pid
        # Spawns asked for whose forker reply is not received yet, in the order asked; those
        # written to the current forker; those a dead forker may have forked.
        self._pending: dict[int, TaskSpec] = {}
        self._in_forker: dict[int, None] = {}
        self._doubtful: set[int] = set()
        self._answered = asyncio.Event()  # set while no request waits for the forker's reply
        self._answered.set()
        self._held_exits: dict[int, TaskExit] = {}
        self._held_progress: dict[int, int] = {}
        self._kill_on_start: set[int] = set()

    @property
    def forker_running(self) -> bool:
        """True while a forker takes requests (False before start, after stop, and between
        a forker's death and its replacement)."""
        return self._running and self._forker_up

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start (or attach to) the forker, open the IPC queue, start reading exits.

        Raises:
            ForkerError: the given forker handle is closed.
            sysv_ipc.Error: the queue cannot be opened.
        """
        if self._forker is None:
            self._forker = start_forker(self.settings.forker_pidfile)
        if self._forker.closed:
            raise ForkerError("the forker handle is closed")
        await self._attach(self._forker)
        self._running = True
        queue = open_queue(self.settings.ipc_key)
        self._gatherer = start_gatherer(queue, self.settings, self._deliver)

    async def _attach(self, forker: ForkerHandle) -> None:
        """Talk to ``forker`` from now on (non-blocking pipe transports on duplicates of its
        pipes)."""
        loop = asyncio.get_running_loop()
        request_pipe = os.fdopen(os.dup(forker.request_fd), "wb", buffering=0)
        reply_pipe = os.fdopen(os.dup(forker.reply_fd), "rb", buffering=0)
        self._requests, writer = await loop.connect_write_pipe(_PipeProtocol, request_pipe)
        self._replies, reader = await loop.connect_read_pipe(
            lambda: _ReplyProtocol(self), reply_pipe
        )
        self._pipes = [writer, reader]
        self._forker_up = True
        self._forker_since = time.monotonic()

    async def _detach(self) -> None:
        """Close our ends of the current forker's pipes (it sees EOF, if still alive)."""
        for transport in (self._requests, self._replies):
            if transport is not None:
                transport.close()
        self._requests = self._replies = None
        # Our duplicates of the pipe fds must really be closed before the forker can see EOF.
        await asyncio.gather(*(pipe.closed for pipe in self._pipes))
        self._pipes = []

    async def stop(self) -> None:
        """Stop reading exits (pending ones stay in the kernel queue) and release the forker.

        Running monitors and tasks are not affected. The forker's replies to the spawns already
        asked for are awaited first (up to :data:`REPLY_WAIT` seconds), so every task that
        started is reported by ``on_started``. Exits received before the call are all
        delivered before it returns. Spawns that were waiting for a new forker are not made.
        """
        if self._forker_up:
            try:
                await asyncio.wait_for(self._answered.wait(), REPLY_WAIT)
            except TimeoutError:
                logger.error("the forker did not answer %d spawn request(s)",
                             len(self._in_forker))
        self._running = False
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        unsent = [tid for tid in self._pending if tid not in self._in_forker]
        if unsent:
            logger.warning("%d task(s) waiting for the forker not started: %s", len(unsent),
                           ", ".join(map(str, unsent)))
        if self._gatherer is not None:
            await self._gatherer.stop()
            self._gatherer = None
        await self._detach()
        self._forker_up = False
        if self._owns_forker and self._forker is not None:
            forker, self._forker = self._forker, None
            await forker.aclose()

    # -- requests --------------------------------------------------------------------------------

    def spawn(self, spec: TaskSpec) -> None:
        """Ask the forker for a monitor running ``spec`` (never blocks). While the forker is
        being replaced, the request waits for the new one.

        Args:
            spec: the task.

        Raises:
            ForkerError: the manager is not started.
            ValueError: a task with this tid is already running here, or the spec is too large.
        """
        if not self._running:
            raise ForkerError("the forker is not running")
        if spec.tid in self._pending or spec.tid in self._monitors:
            raise ValueError(f"task {spec.tid} is already running")
        request = encode_request(spec.tid, spec.encode())
        self._pending[spec.tid] = spec
        if self._forker_up and self._requests is not None:
            self._requests.write(request)
            self._in_forker[spec.tid] = None
            self._answered.clear()

    def _send(self, tid: int) -> None:
        """Write the request of a pending spawn to the current forker."""
        assert self._requests is not None
        self._requests.write(encode_request(tid, self._pending[tid].encode()))
        self._in_forker[tid] = None
        self._answered.clear()

    def kill(self, tid: int, pid: int | None = None) -> bool:
        """Kill a task: SIGTERM to its monitor, which SIGKILLs the task's process group.

        Args:
            tid: the task id.
            pid: the monitor pid, for a task this manager did not spawn (after a restart).

        Returns:
            True if a signal was sent (or will be, as soon as the monitor exists).
        """
        if tid in self._pending:
            self._kill_on_start.add(tid)
            return True
        if tid in self._monitors:
            pid = self._monitors[tid]
            if not _own_monitor_alive(pid):
                return False
        elif pid is None or not monitor_alive(pid):
            return False
        # Said in a file first: a monitor that already ran another task obeys only then.
        with contextlib.suppress(OSError):
            os.close(os.open(task_file(self.settings.logs_directory, self.settings.node, tid,
                                       KILL_KIND), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    def monitor_pid(self, tid: int) -> int | None:
        """The monitor pid of a task this manager spawned and has not seen exit."""
        return self._monitors.get(tid)

    def tail(self, tid: int, kind: str, size: int | None = None) -> str:
        """The end of a running task's live output.

        Args:
            tid: the task id.
            kind: ``stdout``, ``stderr`` or ``log``.
            size: bytes to return (default ``processmanager.logs.tailsize``).

        Returns:
            The last ``size`` bytes, decoded.

        Raises:
            ValueError: unknown kind.
            TaskOutputNotFound: no such file (unknown tid, or the task already ended). A task
                this manager started whose files do not exist yet has an empty output.
        """
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output type {kind!r}")
        size = self.settings.tail_size if size is None else size
        path = task_file(self.settings.logs_directory, self.settings.node, tid, kind)
        try:
            with open(path, "rb") as file:
                end = file.seek(0, os.SEEK_END)
                file.seek(max(0, end - size))
                return clean_text(file.read(size))
        except FileNotFoundError:
            if tid in self._monitors or tid in self._pending:
                return ""  # started, but its monitor has not created the files yet
            raise TaskOutputNotFound(f"no {kind} output for task {tid}") from None

    # -- events from the forker and the gatherer -------------------------------------------------

    async def sync(self) -> None:
        """Return once every message that was in the IPC queue when called is delivered
        (after a restart: the exits that waited while the engine was down)."""
        if self._gatherer is not None:
            await self._gatherer.sync()

    def exit_recorded(self, tid: int) -> bool:
        """True when task *tid*'s status file holds its retcode: the task ended, even if its
        monitor lives on (a monitor that ran a task cleanly may run the next one)."""
        path = task_file(self.settings.logs_directory, self.settings.node, tid, STATUS_KIND)
        status = read_status(path)
        return status is not None and status.retcode is not None

    async def lost_exit(self, tid: int, pid: int) -> TaskExit:
        """The exit of a task whose monitor ended without its exit message being received
        (a previous engine took it off the queue and was killed before storing it): the
        retcode its status file holds and its output files, read off the loop. Without a
        retcode there (the monitor itself was killed), retcode -1 and a note in stderr.

        Args:
            tid: the task id.
            pid: its monitor's pid.

        Returns:
            The exit to deliver.
        """
        path = task_file(self.settings.logs_directory, self.settings.node, tid, STATUS_KIND)
        status = await asyncio.to_thread(read_status, path)
        if status is not None and status.retcode is not None:
            message = TaskExitMessage(pid=status.pid, tid=tid, retcode=status.retcode)
            return await asyncio.to_thread(read_task_exit, self.settings, message)
        message = TaskExitMessage(pid=pid or -1, tid=tid, retcode=-1)
        item = await asyncio.to_thread(read_task_exit, self.settings, message)
        note = f"{LOST_EXIT}\n"
        return dataclasses.replace(item, retcode=-1, stderr=(item.stderr or "") + note)

    def _on_reply(self, tid: int, pid: int) -> None:
        if self._pending.pop(tid, None) is None:
            logger.warning("forker reply for task %d, which is not waiting to start", tid)
            return
        self._in_forker.pop(tid, None)
        self._doubtful.discard(tid)
        if not self._in_forker:
            self._answered.set()
        if pid < 0:
            message = f"Could not fork monitor: {os.strerror(-pid)}"
            logger.error("task %d: %s", tid, message)
            self._kill_on_start.discard(tid)
            self._held_progress.pop(tid, None)
            self._held_exits.pop(tid, None)
            self._call(self._on_exit, TaskExit(tid, 0, -1, "", message, ""))
            return
        self._monitors[tid] = pid
        if self._on_started is not None:
            self._call(self._on_started, tid, pid)
        if tid in self._kill_on_start:
            self._kill_on_start.discard(tid)
            self.kill(tid)
        if tid in self._held_progress:
            self._call(self._on_progress, tid, self._held_progress.pop(tid))
        if tid in self._held_exits:
            self._deliver(self._held_exits.pop(tid))

    # -- a dead forker and its replacement -------------------------------------------------------

    def _forker_gone(self) -> None:
        if not self._running or not self._forker_up:
            return  # we are stopping, or already replacing it
        self._forker_up = False
        dead = self._forker
        # Requests are answered in order: only the oldest unanswered one may have been forked.
        doubtful = next(iter(self._in_forker), None)
        self._in_forker.clear()
        self._answered.set()
        logger.error("the forker (pid %s) exited; starting a new one (%d task start(s) wait "
                     "for it)", dead.pid if dead else "?", len(self._pending))
        # A replacement that dies soon again is replaced later and later.
        if self.forker_restarts and time.monotonic() - self._forker_since < _FLAPPING:
            self._restart_delay = min(_RESTART_DELAY_MAX,
                                      max(_RESTART_DELAY_MIN, self._restart_delay * 2))
        else:
            self._restart_delay = 0.0
        self._in_background(self._replace_forker(dead))
        if doubtful is not None:
            self._doubtful.add(doubtful)
            self._in_background(self._settle(doubtful))
        if self._on_forker_lost is not None:
            self._call(self._on_forker_lost)

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _replace_forker(self, dead: ForkerHandle | None) -> None:
        """Start forkers until one runs, then send it every spawn that waits."""
        await self._detach()
        if dead is not None:
            with contextlib.suppress(OSError):
                await dead.aclose()  # reaps it when it is our child
        delay = self._restart_delay
        while True:
            if delay:
                await asyncio.sleep(delay)
            try:
                forker = self._restart_forker(dead)
                break
            except Exception as exc:
                delay = min(_RESTART_DELAY_MAX, max(_RESTART_DELAY_MIN, delay * 2))
                logger.error("cannot start a new forker (%s); trying again in %gs", exc, delay)
        self._forker, self._owns_forker = forker, True
        await self._attach(forker)
        self.forker_restarts += 1
        waiting = [tid for tid in self._pending
                   if tid not in self._doubtful and tid not in self._in_forker]
        for tid in waiting:
            self._send(tid)
        logger.log(25, "new forker started (pid %d); %d waiting task start(s) sent to it",
                   forker.pid, len(waiting))

    async def _settle(self, tid: int) -> None:
        """Adopt the monitor a dead forker forked for ``tid``, or send ``tid`` again."""
        path = task_file(self.settings.logs_directory, self.settings.node, tid, STATUS_KIND)
        deadline = time.monotonic() + DOUBT_GRACE
        while tid in self._doubtful:
            held = self._held_exits.get(tid)
            status = None if held is not None else read_status(path)
            if held is not None or status is not None:
                pid = held.pid if held is not None else status.pid  # type: ignore[union-attr]
                logger.info("task %d: its monitor (pid %d) was forked by the dead forker", tid,
                            pid)
                self._on_reply(tid, pid)
                return
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(_POLL)
        if tid not in self._doubtful:
            return
        self._doubtful.discard(tid)
        logger.info("task %d: not forked by the dead forker, asking again", tid)
        if self._forker_up and tid in self._pending:
            self._send(tid)  # else the next forker gets it with the others

    def _deliver(self, item: Delivery) -> None:
        if isinstance(item, TaskExit):
            if item.tid in self._pending:
                self._held_exits[item.tid] = item
                return
            self._monitors.pop(item.tid, None)
            self._call(self._on_exit, item)
        elif isinstance(item, ProgressMessage):
            if item.tid in self._pending:
                self._held_progress[item.tid] = item.percent
                return
            self._call(self._on_progress, item.tid, item.percent)
        elif self._on_notification_exit is not None:
            self._call(self._on_notification_exit, item)
        else:
            logger.warning("dropped a notification exit message: %s", item)

    @staticmethod
    def _call(callback: Callable[..., None], *args: object) -> None:
        # A failing callback must not stop the delivery of the next messages.
        try:
            callback(*args)
        except Exception:
            logger.exception("process callback %r failed", callback)
