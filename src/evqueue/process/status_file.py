"""A task's status file: what its monitor leaves behind for a restarted engine.

An exit message on the SysV queue is read destructively: once the gatherer has taken it, an
engine killed before storing the result would lose it. So the monitor also writes
``<logs>/<node>-<tid>.status``:

- at its start, one line with its pid (so a restarted engine that only stored the task's tid
  can tell that the task started, and whether its monitor still runs);
- before it sends the exit message, a second line with the retcode.

Each line is one ``write`` of a few bytes (a kill cannot split it). The file, like the output
files, stays until the engine has stored the task's result (:func:`remove_task_files`), so
the result can always be rebuilt from the files. This module uses the standard library only
(the monitor imports it).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

__all__ = ["STATUS_KIND", "MonitorStatus", "read_status", "remove_task_files"]

#: Suffix of the status file (``task_file(logs, node, tid, STATUS_KIND)``).
STATUS_KIND = "status"


@dataclass(frozen=True)
class MonitorStatus:
    """What a status file says: the monitor's pid, and its task's retcode once it ended."""

    pid: int
    retcode: int | None


def read_status(path: str) -> MonitorStatus | None:
    """The status in ``path``; None when there is no (readable, valid) status file."""
    try:
        with open(path, "rb") as file:
            lines = file.read(64).split(b"\n")
        pid = int(lines[0])
        retcode = int(lines[1]) if len(lines) > 2 else None  # a complete second line
    except (OSError, ValueError):
        return None
    return MonitorStatus(pid, retcode)


def remove_task_files(paths: list[str]) -> None:
    """Unlink these files of a task, the missing ones ignored."""
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)
