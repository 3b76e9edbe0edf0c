"""The forker: a lean long-lived process that forks one monitor per task, and its handle.

The engine starts it with :func:`~evqueue.process.forker_handle.start_forker` early, before
daemonizing, so it is a child of
the engine that keeps the engine's startup environment and working directory. Rules:

- LEAN: this module (and everything it imports) uses the standard library and sysv_ipc only,
  and avoids modules that make each fork dearer: no threading (it registers at-fork handlers
  that run in every child), no subprocess, no argparse. The engine's side (start, pipes, close)
  is :mod:`evqueue.process.forker_handle`.
- Requests arrive on the forker's stdin: :data:`REQUEST` header (tid, payload length) followed by
  the payload (:meth:`TaskSpec.encode`). The forker decodes it before forking (cheaper there
  than in a fresh copy-on-write child); an undecodable payload is answered with ``-EINVAL``.
- For each request it hands the task to a monitor waiting for one (:class:`_Waiting`: monitors
  that ran a task cleanly say so on a shared pipe, and read their next task from a pipe of
  their own), or forks a new monitor, and answers on its stdout with :data:`REPLY` (tid,
  monitor pid, or ``-errno`` when fork failed). The engine reads replies without blocking. A
  monitor that waited :data:`IDLE_TIMEOUT` seconds is let go (its pipe closed), and so is
  every one when the forker exits; requests larger than a pipe's buffer always get a new
  monitor, so that handing one over never blocks.
- It reaps its children on SIGCHLD (and before each fork), so no zombie accumulates.
- It exits when its request pipe reaches EOF, i.e. when the engine is gone. Monitors do not:
  they live in their own sessions and keep running their tasks.
- It runs in its own session (no terminal signals) and writes ``forker.pidfile``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import os
import select
import signal
import struct
import sys
import time
from types import FrameType
from typing import IO

from evqueue.process.monitor import MonitorChannel, Prepared, monitor_main, prepare
from evqueue.process.prctl import set_process_name
from evqueue.process.spec import TaskSpec

__all__ = [
    "FORKER_NAME",
    "MAX_REQUEST_SIZE",
    "REPLY",
    "REQUEST",
    "encode_request",
    "main",
    "serve",
]

FORKER_NAME = "evq_forker"
#: Request header: tid (int64), payload length (uint32), network byte order.
REQUEST = struct.Struct("!qI")
#: Reply: tid (int64), monitor pid or -errno (int64).
REPLY = struct.Struct("!qq")
#: Largest payload accepted (a task's stdin data travels inside it).
MAX_REQUEST_SIZE = 256 * 1024 * 1024
#: Seconds a monitor may wait for its next task before it is let go.
IDLE_TIMEOUT = 0.5
#: Largest request handed to a waiting monitor: less than a pipe's buffer (64 KiB), which the
#: monitor has emptied, so the write never blocks.
_HAND_OVER_MAX = 60_000
#: A monitor's pid, as it says it waits (MonitorChannel.ready).
_READY = struct.Struct("=i")
#: Monitors' pipe ends are kept above the fds a monitor gives its task (0-3).
_HIGH_FD = 10


def encode_request(tid: int, payload: bytes) -> bytes:
    """Frame a spawn request.

    Args:
        tid: the task id (echoed in the reply).
        payload: the encoded task spec.

    Returns:
        The bytes to write to the forker's stdin.

    Raises:
        ValueError: the payload exceeds :data:`MAX_REQUEST_SIZE`.
    """
    if len(payload) > MAX_REQUEST_SIZE:
        raise ValueError(f"task request too large ({len(payload)} bytes)")
    return REQUEST.pack(tid, len(payload)) + payload


# -- the forker process ----------------------------------------------------------------------


#: Children reaped since the main loop last looked (their task pipes are closed there).
_EXITED: list[int] = []


def _reap(signum: int = 0, frame: FrameType | None = None) -> None:
    """Collect every exited child (SIGCHLD handler, also called before each fork)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _EXITED.append(pid)


def _high(fd: int) -> int:
    """``fd`` moved above the task's fds (close-on-exec)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, _HIGH_FD)
    os.close(fd)
    return high


class _Waiting:
    """The monitors that may be handed a task, and the pipe each reads its next one from."""

    def __init__(self) -> None:
        ready_r, ready_w = os.pipe()
        self.ready_r, self.ready_w = _high(ready_r), _high(ready_w)
        os.set_blocking(self.ready_r, False)
        self.pipes: dict[int, int] = {}  # monitor pid → write end of its task pipe
        self.since: dict[int, float] = {}  # waiting monitor pid → since when

    def channel(self) -> tuple[MonitorChannel, int]:
        """A new monitor's channel, and the forker's end of its task pipe."""
        tasks_r, tasks_w = os.pipe()
        return MonitorChannel(_high(tasks_r), self.ready_w), _high(tasks_w)

    def collect(self) -> None:
        """Take in the monitors that said they wait."""
        try:
            data = os.read(self.ready_r, 4096)
        except BlockingIOError:
            return
        now = time.monotonic()
        for (pid,) in _READY.iter_unpack(data[: len(data) - len(data) % _READY.size]):
            if pid in self.pipes:
                self.since[pid] = now

    def hand_over(self, frame: bytes) -> int | None:
        """Give ``frame`` to the monitor that waited least; its pid, or None if none can."""
        while self.since:
            pid = next(reversed(self.since))
            del self.since[pid]
            try:
                os.write(self.pipes[pid], frame)
                return pid
            except OSError:  # it is gone
                self.let_go(pid)
        return None

    def let_go(self, pid: int) -> None:
        """Close a monitor's task pipe: it exits once its task (if any) is done."""
        self.since.pop(pid, None)
        fd = self.pipes.pop(pid, None)
        if fd is not None:
            os.close(fd)

    def let_idle_go(self) -> None:
        """Let go the monitors that waited :data:`IDLE_TIMEOUT` seconds."""
        limit = time.monotonic() - IDLE_TIMEOUT
        for pid in [pid for pid, since in self.since.items() if since <= limit]:
            self.let_go(pid)

    def close(self) -> None:
        for pid in list(self.pipes):
            self.let_go(pid)


def _fork_monitor(payload: bytes, waiting: _Waiting | None = None) -> int:
    """Fork a monitor for ``payload`` (that may run more tasks, with ``waiting``); returns its
    pid, or -errno."""
    # Decoded here, where the JSON machinery is warm: in the child every object it touches
    # would be a copy-on-write page fault.
    try:
        spec = TaskSpec.decode(payload)
    except ValueError:
        return -errno.EINVAL
    prepared: Prepared | None
    try:
        prepared = prepare(spec)
    except Exception:  # the monitor tries again, and fails where its task's files are
        prepared = None
    channel, tasks_w = waiting.channel() if waiting is not None else (None, -1)
    # SIGTERM stays blocked across fork so a new monitor cannot die of it before installing
    # its own handler.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        pid = os.fork()
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        if channel is not None:
            os.close(channel.tasks)
            os.close(tasks_w)
        return -(exc.errno or errno.EAGAIN)
    if pid == 0:
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            if waiting is not None:
                # Only its own pipes: another monitor's task pipe held open here would never
                # tell that monitor the forker let it go.
                os.close(tasks_w)
                os.close(waiting.ready_r)
                for fd in waiting.pipes.values():
                    os.close(fd)
            monitor_main(spec, prepared, channel)  # unblocks SIGTERM; never returns
        finally:
            os._exit(255)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if waiting is not None and channel is not None:
        os.close(channel.tasks)
        waiting.pipes[pid] = tasks_w
    return pid


def serve(requests: IO[bytes], replies: IO[bytes]) -> int:
    """The forker's loop: read requests until EOF, hand each task to a waiting monitor or fork
    one, answer with the monitor's pid.

    Args:
        requests: the request pipe (its file descriptor is read directly).
        replies: the reply pipe.

    Returns:
        The exit status (0).
    """
    signal.signal(signal.SIGCHLD, _reap)
    waiting = _Waiting()
    fd = requests.fileno()
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(waiting.ready_r, select.POLLIN)
    buffer = bytearray()
    try:
        while True:
            timeout = IDLE_TIMEOUT * 500 if waiting.since else None
            readable = {ready for ready, _ in poller.poll(timeout)}
            waiting.collect()
            waiting.let_idle_go()
            while _EXITED:
                waiting.let_go(_EXITED.pop())
            if fd not in readable:
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                return 0  # the engine is gone
            buffer += data
            while len(buffer) >= REQUEST.size:
                tid, size = REQUEST.unpack_from(buffer)
                end = REQUEST.size + size
                if len(buffer) < end:
                    break
                frame = bytes(buffer[:end])
                del buffer[:end]
                _reap()
                pid = waiting.hand_over(frame) if end <= _HAND_OVER_MAX else None
                if pid is None:
                    pid = _fork_monitor(frame[REQUEST.size:], waiting)
                try:
                    replies.write(REPLY.pack(tid, pid))
                    replies.flush()
                except BrokenPipeError:
                    return 0  # the engine is gone
    finally:
        waiting.close()


_USAGE = "usage: python -m evqueue.process.forker [--pidfile PATH] [--nofile N]\n"


def _parse_args(argv: list[str]) -> tuple[str, int | None]:
    """``[--pidfile PATH] [--nofile N]`` → (pidfile or "", soft open files limit or None).
    argparse is not used: it would make every forked monitor bigger."""
    options = {"--pidfile": "", "--nofile": ""}
    if len(argv) % 2 or any(name not in options for name in argv[::2]):
        sys.stderr.write(_USAGE)
        raise SystemExit(2)
    options.update(zip(argv[::2], argv[1::2], strict=True))
    nofile = options["--nofile"]
    if nofile and not nofile.isdigit():
        sys.stderr.write(_USAGE)
        raise SystemExit(2)
    return options["--pidfile"], int(nofile) if nofile else None


def _limit_open_files(soft: int) -> None:
    """Give tasks the open files limit the node was started with: a forker started again by
    the engine inherits the engine's raised limit."""
    import resource  # only here: most forkers are started with the node's own limit

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def main(argv: list[str] | None = None) -> int:
    """``python -m evqueue.process.forker [--pidfile PATH] [--nofile N]``: requests on stdin,
    replies on stdout; ``N`` is the soft open files limit of the monitors and tasks.

    Args:
        argv: command-line arguments (default ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    pidfile, nofile = _parse_args(sys.argv[1:] if argv is None else argv)
    if nofile is not None:
        _limit_open_files(nofile)
    set_process_name(FORKER_NAME)
    # The engine handles SIGINT/SIGHUP; a terminal's signals must not reach the forker.
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    # Objects that exist now are never collected: the GC will not touch (and copy) their pages
    # in every forked monitor.
    gc.freeze()
    if pidfile:
        with open(pidfile, "w") as file:
            file.write(f"{os.getpid()}\n")
    try:
        return serve(sys.stdin.buffer, sys.stdout.buffer)
    finally:
        if pidfile:
            with contextlib.suppress(OSError):
                os.unlink(pidfile)


if __name__ == "__main__":
    sys.exit(main())
