"""The error tree: every evQueue code, fatality, messages, rebuilding from a response."""

from __future__ import annotations

from pathlib import Path

import pytest

from evqueue import errors
from evqueue.errors import (
    ERROR_CLASSES,
    ApiError,
    AuthError,
    CredentialError,
    IncompleteMessage,
    InvalidWorkflowParameters,
    MessageTooLarge,
    MissingParameter,
    NotFound,
    ProtocolError,
    TimedOut,
    TooManyInstances,
    UnexpectedException,
    UnknownCommand,
    UnknownInstance,
    UnknownObject,
    UnknownObjectName,
    UnknownTask,
    XmlSyntaxError,
    error_for_code,
)
from tests.layers import imported_modules

# Every code of protocol.md §5, plus the connection-level ones.
EVQUEUE_CODES = """
UNKNOWN_COMMAND MISSING_PARAMETER INVALID_INTEGER INVALID_BOOLEAN INSUFFICIENT_RIGHTS
UNKNOWN_OBJECT UKNOWN_OBJECT UNKNOWN_TYPE INVALID_MODULE INVALID_PARAMETER UNKNOWN_INSTANCE
UNKNOWN_WORKFLOW UNKNOWN_USER UNKNOWN_QUEUE UNKNOWN_TAG UNKNOWN_TAG_OR_INSTANCE
UNKNOWN_NOTIFICATION UNKNOWN_NOTIFICATION_TYPE UNKNOWN_RETRY_SCHEDULE UNKNOWN_WORKFLOW_SCHEDULE
UNKNOWN_LAUNCHER UNKNOWN_DISPLAY UNKNOWN_CHANNEL UNKNOWN_CHANNELGROUP UNKNOWN_ALERT
INVALID_WORKFLOW_PARAMETERS INVALID_SCHEDULE INVALID_XML WORKFLOW_ALREADY_EXISTS
INSTANCE_IS_RUNNING INSTANCE_ALREADY_TAGGED ALREADY_NO_RIGHTS WRONG_NODE TIMED_OUT TYPE_ERROR
SQL_ERROR AUTH_ERROR UNEXPECTED_EXCEPTION
""".split()
#: Codes of our own: MAX_INSTANCES_REACHED (workflowinstance.max, which evQueue does not have).
OUR_CODES = ["MAX_INSTANCES_REACHED"]


def all_classes() -> list[type[ApiError]]:
    found: list[type[ApiError]] = []
    pending: list[type[ApiError]] = [ApiError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_evqueue_code_has_a_class() -> None:
    assert set(EVQUEUE_CODES + OUR_CODES) == set(ERROR_CLASSES)
    for code, cls in ERROR_CLASSES.items():
        assert cls.code == code
        assert cls.__name__ in errors.__all__


def test_module_docstring_draws_every_class() -> None:
    assert errors.__doc__ is not None
    for cls in all_classes():
        if cls.__module__ == errors.__name__:
            assert cls.__name__ in errors.__doc__, cls


def test_misspelt_code_is_kept() -> None:
    assert UnknownObjectName.code == "UKNOWN_OBJECT"
    assert UnknownObject.code == "UNKNOWN_OBJECT"
    assert UnknownObjectName.by_name("Workflow", "nosuch").message == (
        "Unknown Workflow name : nosuch"
    )
    assert UnknownObject.by_id("Workflow", 3).message == "Unknown Workflow ID : 3"
    assert issubclass(UnknownObjectName, NotFound)


def test_fatal_errors() -> None:
    assert not UnknownCommand().fatal
    assert AuthError().fatal
    assert XmlSyntaxError("x").fatal
    assert MessageTooLarge(10).fatal
    assert issubclass(XmlSyntaxError, ProtocolError)
    assert issubclass(ProtocolError, UnexpectedException)
    # During authentication a missing attribute closes the connection too.
    missing = MissingParameter("Missing 'response' attribute", fatal=True)
    assert missing.fatal and not MissingParameter.fatal
    assert not ApiError("x", fatal=False).fatal


def test_messages() -> None:
    assert str(UnknownCommand()) == "Unknown command or action"
    assert UnknownCommand("custom").message == "custom"
    assert XmlSyntaxError("boom").message == "Invalid query XML structure : boom"
    assert XmlSyntaxError("boom").detail == "boom"
    assert IncompleteMessage().message == "Invalid query XML structure : unexpected end of data"
    assert MessageTooLarge(10).limit == 10
    assert CredentialError("why").reason == "why"
    assert CredentialError("why").message == "Invalid authentication"


@pytest.mark.parametrize("code", EVQUEUE_CODES + OUR_CODES)
def test_error_for_code_rebuilds_the_typed_error(code: str) -> None:
    error = error_for_code(code, "server said so")
    assert isinstance(error, ERROR_CLASSES[code])
    assert error.code == code
    assert error.message == "server said so"


def test_error_for_unknown_or_missing_code() -> None:
    plain = error_for_code(None, "Could not resume workflow : empty savepoint")
    assert type(plain) is ApiError and plain.code is None
    future = error_for_code("SOME_NEW_CODE", "m")
    assert type(future) is ApiError and future.code == "SOME_NEW_CODE"
    assert ApiError.code is None


def test_the_engine_errors_carry_their_codes() -> None:
    assert UnknownInstance("Unknown instance ID").code == "UNKNOWN_INSTANCE"
    unknown_schedule = UnknownObjectName.by_name("RetrySchedule", "short")
    assert (unknown_schedule.code, unknown_schedule.message) == (
        "UKNOWN_OBJECT", "Unknown RetrySchedule name : short")
    assert InvalidWorkflowParameters("x").code == "INVALID_WORKFLOW_PARAMETERS"
    assert TimedOut().message == "Wait timed out"
    assert TooManyInstances("Max workflow instances reached").code == "MAX_INSTANCES_REACHED"
    assert UnknownTask("Unknown task 3 in instance 1").code is None
    assert issubclass(UnknownTask, NotFound)


def test_the_tree_imports_nothing_of_evqueue() -> None:
    """Every layer imports this module, so it may import none of them."""
    path = Path(errors.__file__)
    assert [name for _, name in imported_modules(path) if name.split(".")[0] == "evqueue"] == []
