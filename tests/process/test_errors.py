"""Tests of evqueue.process.errors: one tree, usable as the builtin kinds they refine."""

from __future__ import annotations

from evqueue.process.errors import (
    AgentProtocolError,
    ForkerError,
    IpcKeyError,
    ProcessError,
    TaskOutputNotFound,
)


def test_every_error_is_a_process_error() -> None:
    for error in (AgentProtocolError, ForkerError, IpcKeyError, TaskOutputNotFound):
        assert issubclass(error, ProcessError)
    assert issubclass(IpcKeyError, ValueError)
    assert issubclass(TaskOutputNotFound, LookupError)
