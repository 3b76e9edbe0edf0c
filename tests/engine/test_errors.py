"""Engine errors carry evQueue's codes."""

from __future__ import annotations

from evqueue.engine import (
    EngineError,
    InvalidWorkflowParameters,
    UnknownInstance,
    UnknownObject,
    WaitTimedOut,
)


def test_codes():
    assert UnknownInstance("x").code == "UNKNOWN_INSTANCE"
    assert UnknownObject("x").code == "UKNOWN_OBJECT"
    assert UnknownObject("x", "UNKNOWN_OBJECT").code == "UNKNOWN_OBJECT"
    assert InvalidWorkflowParameters("x").code == "INVALID_WORKFLOW_PARAMETERS"
    assert WaitTimedOut("Wait timed out").message == "Wait timed out"
    assert EngineError("no code").code is None
