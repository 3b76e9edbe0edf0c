"""Exceptions of the process layer.

Tree::

    ProcessError                 base of everything raised by evqueue.process
     ├── IpcKeyError             core.ipc.qid cannot be turned into a SysV key
     ├── ForkerError             the forker is not running or cannot take a request
     ├── AgentProtocolError      corrupted frame or header on the agent channel
     └── TaskOutputNotFound      no live output file for a tid (tail)
"""

from __future__ import annotations

__all__ = [
    "AgentProtocolError",
    "ForkerError",
    "IpcKeyError",
    "ProcessError",
    "TaskOutputNotFound",
]


class ProcessError(Exception):
    """Base class of the process layer's errors."""


class IpcKeyError(ProcessError, ValueError):
    """The configured ``core.ipc.qid`` does not give a usable SysV IPC key."""


class ForkerError(ProcessError):
    """The forker is not running, died, or refused a request."""


class AgentProtocolError(ProcessError):
    """Data received from (or sent to) the remote agent is corrupted."""


class TaskOutputNotFound(ProcessError, LookupError):
    """There is no live output file for the requested task."""
