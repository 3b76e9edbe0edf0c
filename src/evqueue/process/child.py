"""One child process's lifetime: spawn it with an fd map, pump its pipes, turn its status into
evQueue's retcode. Used by the monitor (for the task or ssh) and by the remote agent.

Rules:
- Spawning uses ``posix_spawn`` (no shell, no Python code between fork and exec). Only the fds
  named in the map reach the child: every other fd of ours is close-on-exec, and a mapped fd
  reaches its target whatever the numbers (sources are parked first when they could clash).
  Every signal is reset to its default disposition and unblocked in the child, so a task never
  inherits an ignored SIGPIPE/SIGINT from the monitor.
- :func:`pump` is the only blocking loop. It writes stdin data without ever blocking on it
  (a task that does not read its stdin cannot deadlock the monitor), reads the given pipes, and
  stops as soon as the child has exited (pidfd), after draining what the pipes already hold —
  so a grandchild that keeps a pipe open cannot hold the monitor forever.
- retcode: exit status as a signed char when the child exited, -1 otherwise (evQueue).
"""

from __future__ import annotations

import fcntl
import os
import select
import signal
from collections.abc import Callable, Mapping

__all__ = ["Reader", "exit_code", "pump", "spawn"]

#: Called with each chunk read; ``b""`` means end of stream. Returning False stops reading (the
#: read end is closed and the callback is not called again).
Reader = Callable[[bytes], bool]

_READ_SIZE = 65536
_WRITE_SIZE = 65536
#: Upper bound on what is drained after the child exited (a grandchild may still be writing).
_DRAIN_LIMIT = 64 * 1024 * 1024
# Duplicates of the mapped fds are parked above this so they never clash with targets 0-3.
_PARK_FD_MIN = 10
_SIGNALS_TO_DEFAULT = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}


def spawn(
    path: str,
    argv: list[str],
    env: Mapping[str, str] | Mapping[bytes, bytes],
    fds: Mapping[int, int],
    *,
    setsid: bool,
) -> int:
    """Start ``path`` with ``fds`` mapped (child fd → our fd).

    Args:
        path: the file to execute (not searched in PATH; a relative path is relative to cwd).
        argv: its argv, argv[0] included.
        env: its whole environment.
        fds: target fd in the child → source fd here (e.g. ``{0: stdin_r, 1: out, 3: log_w}``).
        setsid: start the child in a new session (its own process group).

    Returns:
        The child's pid.

    Raises:
        OSError: the file could not be executed (errno of the failed exec).
        ValueError: invalid environment (a name containing ``=`` or NUL).
    """
    # A source numbered like a target could be overwritten by an earlier dup2 (or be its own
    # target, which keeps close-on-exec): then every source is first parked above the targets.
    # The monitor keeps its fds above 3, so its spawns need no parking.
    sources = list(fds.values())
    parked = ([fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, _PARK_FD_MIN) for source in sources]
              if min(sources, default=_PARK_FD_MIN) <= max(fds, default=-1) else [])
    try:
        actions = [
            (os.POSIX_SPAWN_DUP2, source, target)
            for source, target in zip(parked or sources, fds.keys(), strict=True)
        ]
        return os.posix_spawn(
            path,
            argv,
            env,
            file_actions=actions,
            setsid=setsid,
            setsigdef=_SIGNALS_TO_DEFAULT,
            setsigmask=(),
        )
    finally:
        for park in parked:
            os.close(park)


def exit_code(status: int) -> int:
    """evQueue's retcode from a wait status: exit status as a signed char, else -1."""
    if os.WIFEXITED(status):
        code = os.WEXITSTATUS(status)
        return code - 256 if code > 127 else code
    return -1


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None  # old kernel: fall back to waiting for the pipes' EOF


class _Pump:
    """State of one :func:`pump` run (``select.poll``: lighter than ``selectors`` in a
    freshly forked monitor, where every object touched costs a page copy)."""

    def __init__(self, stdin: tuple[int, bytes] | None, readers: Mapping[int, Reader]) -> None:
        self.poll = select.poll()
        self.readers = dict(readers)
        self.stdin_fd = -1
        self.stdin_data = memoryview(b"")
        self.pidfd = -1
        for fd in self.readers:
            os.set_blocking(fd, False)
            self.poll.register(fd, select.POLLIN)
        if stdin is not None:
            self.stdin_fd, data = stdin
            self.stdin_data = memoryview(data)
            os.set_blocking(self.stdin_fd, False)
            self.poll.register(self.stdin_fd, select.POLLOUT)
            if not data:
                self.close_stdin()

    def close_stdin(self) -> None:
        if self.stdin_fd >= 0:
            self.poll.unregister(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = -1

    def close_reader(self, fd: int) -> None:
        self.poll.unregister(fd)
        os.close(fd)
        del self.readers[fd]

    def write_stdin(self) -> None:
        try:
            written = os.write(self.stdin_fd, self.stdin_data[:_WRITE_SIZE])
        except BlockingIOError:
            return
        except BrokenPipeError:
            self.close_stdin()  # the task closed its stdin: the rest is dropped
            return
        self.stdin_data = self.stdin_data[written:]
        if not self.stdin_data:
            self.close_stdin()

    def read(self, fd: int) -> int:
        """Read once from ``fd``; returns the byte count, or -1 when would block."""
        try:
            data = os.read(fd, _READ_SIZE)
        except BlockingIOError:
            return -1
        keep = self.readers[fd](data)
        if not data or keep is False:
            self.close_reader(fd)
        return len(data)

    def run(self, pidfd: int | None) -> None:
        if pidfd is not None:
            self.pidfd = pidfd
            self.poll.register(pidfd, select.POLLIN)
        while pidfd is not None or self.readers or self.stdin_fd >= 0:
            for fd, _ in self.poll.poll():
                if fd == self.pidfd:
                    return
                if fd == self.stdin_fd:
                    self.write_stdin()
                elif fd in self.readers:
                    self.read(fd)

    def drain(self) -> None:
        """After the child exited: take what the pipes hold, then end every stream."""
        budget = _DRAIN_LIMIT
        for fd in list(self.readers):
            while fd in self.readers and budget > 0:
                count = self.read(fd)
                if count <= 0:
                    break
                budget -= count
            if fd in self.readers:
                self.readers[fd](b"")
                self.close_reader(fd)
        self.close_stdin()


def pump(pid: int, *, stdin: tuple[int, bytes] | None, readers: Mapping[int, Reader]) -> int:
    """Feed ``stdin``, read ``readers`` until the child ``pid`` exits, then reap it.

    Every fd given is owned by the pump and closed by it.

    Args:
        pid: a child of ours.
        stdin: ``(write end of the child's stdin pipe, data)``, or None.
        readers: read ends of the child's pipes → callbacks (``b""`` = end of stream).

    Returns:
        The child's wait status.
    """
    state = _Pump(stdin, readers)
    pidfd = _open_pidfd(pid)
    try:
        state.run(pidfd)
    finally:
        if pidfd is not None:
            os.close(pidfd)
        state.drain()
    return os.waitpid(pid, 0)[1]
