"""The engine's handle on its forker: start it, hold its pipes, close it.

Rules:
- :func:`start_forker` runs ``python -m evqueue.process.forker`` in its own session, before the
  engine daemonizes: the forker keeps the engine's startup environment and working directory.
- The handle owns the engine's ends of the two pipes. Closing them (:meth:`ForkerHandle.close`)
  is how the engine tells the forker to exit; running monitors are not affected.
- After daemonizing the forker is no longer our child: the handle then never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ForkerHandle", "start_forker"]


@dataclass
class ForkerHandle:
    """The engine's side of a running forker: its pid and the two pipe ends.

    ``request_fd`` (write end) and ``reply_fd`` (read end) stay open as long as the handle is
    open; :class:`~evqueue.process.manager.ProcessManager` uses duplicates of them.
    """

    pid: int
    request_fd: int
    reply_fd: int
    _popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _parent_pid: int = field(default_factory=os.getpid, repr=False)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` or :meth:`aclose` has run."""
        return self.request_fd < 0

    def alive(self) -> bool:
        """True while the forker process exists."""
        if self._popen is not None and os.getpid() == self._parent_pid:
            return self._popen.poll() is None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _close_pipes(self) -> None:
        for fd in (self.request_fd, self.reply_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.request_fd = self.reply_fd = -1

    def _our_child(self) -> subprocess.Popen[bytes] | None:
        # After daemonizing, the forker is no longer our child: nothing to reap.
        if self._popen is not None and os.getpid() == self._parent_pid:
            return self._popen
        return None

    def close(self, timeout: float = 5.0) -> None:
        """Close the pipes (the forker sees EOF and exits) and reap it when it is our child.

        Blocks up to ``timeout``; from a running event loop use :meth:`aclose`. Running
        monitors are not affected.

        Args:
            timeout: how long to wait for the forker to exit before killing it.
        """
        self._close_pipes()
        popen = self._our_child()
        if popen is not None:
            try:
                popen.wait(timeout)
            except subprocess.TimeoutExpired:
                popen.kill()
                popen.wait()

    async def aclose(self, timeout: float = 5.0) -> None:
        """:meth:`close` without blocking the event loop (waits on a pidfd).

        Args:
            timeout: how long to wait for the forker to exit before killing it.
        """
        self._close_pipes()
        popen = self._our_child()
        if popen is None:
            return
        try:
            pidfd = os.pidfd_open(self.pid)
        except ProcessLookupError:
            pidfd = -1
        if pidfd >= 0:
            loop = asyncio.get_running_loop()
            exited: asyncio.Future[None] = loop.create_future()
            loop.add_reader(pidfd, lambda: exited.done() or exited.set_result(None))
            try:
                await asyncio.wait_for(exited, timeout)
            except TimeoutError:
                popen.kill()
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
        popen.wait()  # it has exited (or was just killed): this returns at once


def start_forker(
    pidfile: str = "", *, python: str = sys.executable, stderr: Any = None
) -> ForkerHandle:
    """Start a forker (call it before daemonizing; it inherits environment and cwd).

    Args:
        pidfile: ``forker.pidfile`` ("" → none).
        python: the interpreter to run it with.
        stderr: where the forker's own stderr goes (default: inherited).

    Returns:
        The handle. Requests can be written immediately (they wait in the pipe).
    """
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    command = [python, "-m", "evqueue.process.forker"]
    if pidfile:
        command += ["--pidfile", pidfile]
    try:
        popen = subprocess.Popen(
            command,
            stdin=request_r,
            stdout=reply_w,
            stderr=stderr,
            close_fds=True,
            start_new_session=True,
        )
    except BaseException:
        for fd in (request_w, reply_r):
            os.close(fd)
        raise
    finally:
        os.close(request_r)
        os.close(reply_w)
    return ForkerHandle(pid=popen.pid, request_fd=request_w, reply_fd=reply_r, _popen=popen)
