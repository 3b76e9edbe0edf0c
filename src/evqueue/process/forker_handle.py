"""The engine's handle on its forker: start it, hold its pipes, close it.

Rules:
- :func:`start_forker` runs ``python -m evqueue.process.forker`` in its own session, before the
  engine daemonizes: the forker keeps the engine's startup environment and working directory.
- :meth:`ForkerHandle.restart` starts a new forker like the first one (same pidfile, stderr,
  working directory and environment, as they were at the first start) from the running
  engine. ``subprocess`` starts it with ``vfork`` + ``exec`` of a fresh interpreter: nothing of
  the engine's heap is copied, and the new forker is as lean as the first. It is the engine's
  child (reaped through its handle), in a session of its own like the first, so the monitors it
  forks outlive the engine just the same.
- The handle owns the engine's ends of the two pipes. Closing them (:meth:`ForkerHandle.close`)
  is how the engine tells the forker to exit; running monitors are not affected.
- After daemonizing the forker is no longer our child: the handle then never waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import subprocess
import sys
from collections.abc import Mapping
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
    #: How it was started, for :meth:`restart`.
    _recipe: dict[str, Any] = field(default_factory=dict, repr=False)

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

    def restart(self) -> ForkerHandle:
        """Start a new forker the way this one was started (call it once this one is gone).

        Returns:
            The new forker's handle.

        Raises:
            OSError: it could not be started.
        """
        return start_forker(**self._recipe)

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
    pidfile: str = "", *, python: str = sys.executable, stderr: Any = None,
    cwd: str | None = None, env: Mapping[str, str] | None = None, nofile: int | None = None,
) -> ForkerHandle:
    """Start a forker (call it before daemonizing; it inherits environment and cwd).

    Args:
        pidfile: ``forker.pidfile`` ("" → none).
        python: the interpreter to run it with.
        stderr: where the forker's own stderr goes (default: inherited).
        cwd: its working directory (default: ours, now).
        env: its environment (default: ours, now).
        nofile: the soft open files limit of its monitors and tasks (default: ours, now; the
            engine raises its own limit later, and a forker started again keeps this one).

    Returns:
        The handle. Requests can be written immediately (they wait in the pipe).
    """
    cwd = os.getcwd() if cwd is None else cwd
    env = dict(os.environ if env is None else env)
    if nofile is None:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    request_r, request_w = os.pipe()
    reply_r, reply_w = os.pipe()
    command = [python, "-m", "evqueue.process.forker"]
    if pidfile:
        command += ["--pidfile", pidfile]
    if nofile != resource.RLIM_INFINITY and nofile != resource.getrlimit(resource.RLIMIT_NOFILE)[0]:
        command += ["--nofile", str(nofile)]
    try:
        popen = subprocess.Popen(
            command,
            stdin=request_r,
            stdout=reply_w,
            stderr=stderr,
            cwd=cwd,
            env=env,
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
    recipe = {"pidfile": pidfile, "python": python, "stderr": stderr, "cwd": cwd, "env": env,
              "nofile": nofile}
    return ForkerHandle(pid=popen.pid, request_fd=request_w, reply_fd=reply_r, _popen=popen,
                        _recipe=recipe)
