"""Errors the engine reports to its callers, each with evQueue's message and error code.

::

    EngineError                       base; .code is evQueue's error-code (None: no code)
     ├── UnknownInstance              UNKNOWN_INSTANCE
     ├── UnknownObject                UKNOWN_OBJECT (sic, lookups by name) / UNKNOWN_OBJECT
     ├── InvalidWorkflowParameters    INVALID_WORKFLOW_PARAMETERS
     ├── InvalidParameter             INVALID_PARAMETER
     ├── WaitTimedOut                 TIMED_OUT
     ├── WrongNode                    WRONG_NODE
     ├── TooManyInstances             MAX_INSTANCES_REACHED (ours: workflowinstance.max)
     └── UnknownTask                  (no code: a task id that is not in the instance)

:class:`~evqueue.engine.statuses.InvalidTransition` is not here: it signals a bug, never a request.
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "InvalidParameter",
    "InvalidWorkflowParameters",
    "TooManyInstances",
    "UnknownInstance",
    "UnknownObject",
    "UnknownTask",
    "WaitTimedOut",
    "WrongNode",
]


class EngineError(Exception):
    """An engine request failed; ``str(error)`` is evQueue's message."""

    code: str | None = None

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        """The error message for the API response."""
        return str(self)


class UnknownInstance(EngineError):
    """No such instance runs on this node."""

    code = "UNKNOWN_INSTANCE"


class UnknownObject(EngineError):
    """A workflow or retry schedule that does not exist (``UKNOWN_OBJECT`` by name)."""

    code = "UKNOWN_OBJECT"


class InvalidWorkflowParameters(EngineError):
    """Launch parameters do not match the workflow's ``<parameters>``."""

    code = "INVALID_WORKFLOW_PARAMETERS"


class InvalidParameter(EngineError):
    """An attribute of the request has a value the engine cannot use."""

    code = "INVALID_PARAMETER"


class WaitTimedOut(EngineError):
    """``instance wait`` reached its timeout."""

    code = "TIMED_OUT"


class WrongNode(EngineError):
    """The instance is executing on another node."""

    code = "WRONG_NODE"


class UnknownTask(EngineError):
    """A task evqid or tid that the instance does not have."""


class TooManyInstances(EngineError):
    """A launch would pass ``workflowinstance.max`` running instances on this node."""

    code = "MAX_INSTANCES_REACHED"
