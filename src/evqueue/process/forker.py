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
- For each request it forks a monitor and answers on its stdout with :data:`REPLY` (tid, monitor
  pid, or ``-errno`` when fork failed). The engine reads replies without blocking.
- It reaps its children on SIGCHLD (and before each fork), so no zombie accumulates.
- It exits when its request pipe reaches EOF, i.e. when the engine is gone. Monitors do not:
  they live in their own sessions and keep running their tasks.
- It runs in its own session (no terminal signals) and writes ``forker.pidfile``.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import signal
import struct
import sys
from types import FrameType
from typing import IO

from evqueue.process.monitor import Prepared, monitor_main, prepare
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


def _reap(signum: int = 0, frame: FrameType | None = None) -> None:
    """Collect every exited child (SIGCHLD handler, also called before each fork)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = stream.read(size)
    if data is None or len(data) < size:
        return None  # EOF (possibly mid-request: the engine died while writing)
    return data


def _fork_monitor(payload: bytes) -> int:
    """Fork a monitor for ``payload``; returns its pid, or -errno."""
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
    # SIGTERM stays blocked across fork so a new monitor cannot die of it before installing
    # its own handler.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        pid = os.fork()
    except OSError as exc:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        return -(exc.errno or errno.EAGAIN)
    if pid == 0:
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            monitor_main(spec, prepared)  # unblocks SIGTERM once its handler is set; never returns
        finally:
            os._exit(255)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    return pid


def serve(requests: IO[bytes], replies: IO[bytes]) -> int:
    """The forker's loop: read requests until EOF, fork monitors, answer with their pids.

    Args:
        requests: the request pipe (unbuffered or buffered binary stream).
        replies: the reply pipe.

    Returns:
        The exit status (0).
    """
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        header = _read_exact(requests, REQUEST.size)
        if header is None:
            return 0
        tid, size = REQUEST.unpack(header)
        payload = _read_exact(requests, size)
        if payload is None:
            return 0
        _reap()
        pid = _fork_monitor(payload)
        try:
            replies.write(REPLY.pack(tid, pid))
            replies.flush()
        except BrokenPipeError:
            return 0  # the engine is gone


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
