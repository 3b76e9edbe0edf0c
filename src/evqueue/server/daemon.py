"""Detaching from the terminal (``--daemon``), with start-up errors still reported.

Rules:
- ``daemonize()`` forks; the parent waits on a pipe until the daemon reports that it is serving
  (or why it failed) and exits with 0 or 1 accordingly, so a script that starts a node with
  ``--daemon`` knows whether it is up. evQueue returns before start-up ends.
- The daemon calls ``setsid()``, keeps its working directory (as ``daemon(1, 0)`` does) and has
  its standard streams on /dev/null.
"""

from __future__ import annotations

import os
import sys

__all__ = ["Readiness", "daemonize"]


class Readiness:
    """The daemon's half of the start-up pipe: ``ready()`` or ``failed(message)``, once."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def ready(self) -> None:
        """Tell the waiting parent that the node serves."""
        self._send(b"OK\n")

    def failed(self, message: str) -> None:
        """Tell the waiting parent why start-up failed."""
        self._send(f"ERR {message}\n".encode())

    def _send(self, data: bytes) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, data)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None


def daemonize(on_parent_exit: callable = lambda: None) -> Readiness:  # type: ignore[valid-type]
    """Fork into the background; returns only in the daemon.

    Args:
        on_parent_exit: run in the parent before it exits (drop inherited resources).

    Returns:
        The readiness channel the daemon must report on.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid > 0:
        os.close(write_end)
        on_parent_exit()
        with os.fdopen(read_end, "rb") as pipe:
            status = pipe.read().decode(errors="replace").strip()
        if status == "OK":
            os._exit(0)
        message = status[4:] if status.startswith("ERR ") else "the daemon exited during start-up"
        sys.stderr.write(f"evqueue: {message}\n")
        sys.stderr.flush()
        os._exit(1)
    os.close(read_end)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
    return Readiness(write_end)
