"""The two ``prctl(2)`` calls of the forker and the monitors, through ctypes.

Rules:

- The C function is looked up once, when the forker imports this module, so a monitor makes
  one system call per use and touches (copies) no more of the forker's memory than that.
- Off Linux or without glibc both calls do what they can and say so: the name falls back to
  ``/proc/self/comm``; the subreaper is not set (False).
"""

from __future__ import annotations

import contextlib
import ctypes
import os

__all__ = ["become_subreaper", "set_process_name"]

#: From <linux/prctl.h>.
_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36

try:
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not glibc / not Linux
    _prctl = None


def set_process_name(name: str) -> None:
    """Rename the current process as ``ps``/``top`` show it (``/proc/<pid>/comm``, 15 bytes)."""
    encoded = name.encode()[:15]
    if _prctl is not None and _prctl(_PR_SET_NAME, encoded, 0, 0, 0) == 0:
        return
    with contextlib.suppress(OSError):
        fd = os.open("/proc/self/comm", os.O_WRONLY)
        try:
            os.write(fd, encoded)
        finally:
            os.close(fd)


def become_subreaper() -> bool:
    """Make this process the child subreaper of its descendants.

    Returns:
        Whether the kernel accepted (False off Linux or on a kernel without it).
    """
    if _prctl is None:
        return False
    return _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
