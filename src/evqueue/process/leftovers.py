"""Processes a task leaves behind: the monitor adopts them, names them, and kills them.

A task that starts a child with ``setsid``, ``nohup … &`` or a double fork and exits would leave
it running for good, out of the task's process group, where killing that group does not reach
it. Rules (Linux):

- The monitor makes itself a child subreaper (:func:`become_subreaper`, ``prctl
  PR_SET_CHILD_SUBREAPER``) before it starts the task: every descendant orphaned while the
  monitor lives is re-parented to the monitor instead of init, so the monitor's descendants
  are exactly what the task left (the task's own process is reaped by then).
- :func:`descendants` lists them through ``/proc/<pid>/task/<tid>/children`` (or by scanning
  ``/proc`` when the kernel has no such file); zombies are not listed, they are reaped.
- :func:`kill_all` SIGKILLs them, round after round (a process may fork while the previous
  round is killed), and reaps what it can for :data:`KILL_WAIT` seconds at most: a process
  stuck in the kernel must not hold the task's exit back.
- :func:`describe` names one for the task's log: pid and command line.
- Standard library only: the monitor imports this module (through the forker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from evqueue.process.prctl import become_subreaper

__all__ = ["KILL_WAIT", "become_subreaper", "children", "describe", "descendants", "kill_all",
           "reap"]

#: Seconds :func:`kill_all` waits for the killed processes to be gone.
KILL_WAIT = 2.0
_KILL_ROUNDS = 5
_POLL = 0.01
_DESCRIPTION_MAX = 200
#: Control characters of a command line become spaces: one log line per process.
_CONTROLS = {code: " " for code in (*range(32), 127)}

def _read(path: str, size: int = 65536) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def _state(pid: int) -> bytes | None:
    """The state letter of ``pid`` (``R``, ``S``, ``Z``…), None when it does not exist."""
    try:
        return _read(f"/proc/{pid}/stat").rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def children(pid: int) -> list[int]:
    """The child pids of ``pid``, from ``/proc/<pid>/task/<tid>/children`` (none when it is gone
    or the kernel has no such file)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for thread in threads:
        with contextlib.suppress(OSError, ValueError):
            found += [int(word) for word in
                      _read(f"/proc/{pid}/task/{thread}/children").split()]
    return found


def _children_by_scan() -> dict[int, list[int]]:
    """parent pid → child pids, from every ``/proc/<pid>/stat``."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parent = int(_read(f"/proc/{entry}/stat").rsplit(b")", 1)[1].split()[1])
                tree.setdefault(parent, []).append(int(entry))
    return tree


def descendants() -> list[int]:
    """The live descendants of this process (a single-threaded one: a monitor), parents before
    children.

    Returns:
        Their pids; zombies left out.
    """
    me = os.getpid()
    try:  # the common case, nothing left: one read
        first = [int(word) for word in _read(f"/proc/{me}/task/{me}/children").split()]
        children_of = children
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN
        tree = _children_by_scan()
        first = tree.get(me, [])

        def children_of(pid: int) -> list[int]:
            return tree.get(pid, [])

    found: list[int] = []
    todo = list(first)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.append(pid)
            todo += children_of(pid)
    return [pid for pid in found if _state(pid) not in (None, b"Z")]


def describe(pid: int) -> str:
    """``<pid> (<command line>)`` of a process, for a log line."""
    try:
        words = _read(f"/proc/{pid}/cmdline").rstrip(b"\0").split(b"\0")
        command = " ".join(word.decode("utf-8", "replace") for word in words)
    except OSError:
        command = ""
    if not command:
        with contextlib.suppress(OSError):
            command = "[" + _read(f"/proc/{pid}/comm").decode("utf-8", "replace").strip() + "]"
    command = command.translate(_CONTROLS)
    if len(command) > _DESCRIPTION_MAX:
        command = command[:_DESCRIPTION_MAX] + "…"
    return f"{pid} ({command or '?'})"


def reap() -> None:
    """Collect every child of ours that has exited (orphans adopted as subreaper)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def kill_all(pids: list[int]) -> None:
    """SIGKILL ``pids`` and every descendant of ours that appears meanwhile, then reap.

    Args:
        pids: the processes to kill (the monitor's descendants, as just listed).
    """
    deadline = time.monotonic() + KILL_WAIT
    for _ in range(_KILL_ROUNDS):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        # A dead one is a zombie (ours, or its dead parent's, given to us) until reaped, so
        # its pid cannot be reused before the next round looks again.
        while (any(_state(pid) not in (None, b"Z") for pid in pids)
               and time.monotonic() < deadline):
            time.sleep(_POLL)
        reap()
        pids = descendants()  # children the killed ones had, now ours
        if not pids or time.monotonic() >= deadline:
            break
    reap()
