"""The engine's pidfile, locked for as long as the engine runs.

Rules:
- The file is opened and locked (``flock``) before daemonizing, so a second engine on the same
  pidfile is refused on the terminal with the pid of the one running (evQueue has no lock and
  lets two engines overwrite each other's pidfile).
- The pid is written after daemonizing (it is the daemon's pid) and the file is removed on a clean
  exit. The lock lives with the open file, so it is released by the kernel even on ``kill -9``;
  a stale file left by a crash never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os

__all__ = ["AlreadyRunning", "PidFile"]


class AlreadyRunning(Exception):
    """Another process holds the lock of this pidfile."""


class PidFile:
    """A locked pidfile: ``acquire()``, then ``write()`` the pid, then ``release()``."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Open and lock the file.

        Raises:
            AlreadyRunning: another engine holds it (the message names its pid).
            OSError: the file cannot be created (bad directory, rights).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"another engine (pid {holder}) is running with pidfile {self.path}") from None
        self._fd = fd

    def write(self, pid: int | None = None) -> None:
        """Write ``<pid>\\n`` (the current process by default)."""
        assert self._fd is not None, "acquire() first"
        data = f"{os.getpid() if pid is None else pid}\n".encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def release(self) -> None:
        """Remove the file and drop the lock (clean exit only)."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def close_without_removing(self) -> None:
        """Drop our descriptor, keeping the file (the parent of a daemon does this)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

