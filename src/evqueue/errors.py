"""Every error evqueue reports, as one exception tree with evQueue's error codes.

This module belongs to no layer: every package imports it (the model checking a definition,
the engine refusing a launch, the protocol reading bytes, the API handlers), and it imports
nothing of evqueue. An error raised anywhere reaches the client unchanged: the API dispatcher
(:mod:`evqueue.api.dispatch`) turns it into its reply, and the protocol's response writer
(:meth:`evqueue.protocol.response.Response.from_error`) into the reply's bytes.

Rules:

- An error that reaches a client is an :class:`ApiError`. Its class attribute ``code`` is
  evQueue's error-code string (sent as ``error-code="…"``), or ``None`` for the few errors
  evQueue reports with a message only. The message is the exception's text (``error="…"``).
- ``fatal`` says whether the error ends the connection (one error response, then close on
  TCP/unix, close code 1011 on a websocket). It is a class default that an instance can
  override: a ``MissingParameter`` is harmless in a command but fatal during authentication.
- When a fatal error has no code, the response carries ``UNEXPECTED_EXCEPTION``, as evQueue's
  connection handler does. That rule lives in :func:`evqueue.protocol.response.error_response`.
- Code strings are evQueue's, misspellings included (``UKNOWN_OBJECT`` for a lookup by name);
  ``MAX_INSTANCES_REACHED`` is ours (``workflowinstance.max``, which evQueue does not have).

Class tree::

    ApiError                        code None (message-only errors)
    ├── RequestError                the request itself is wrong
    │   ├── UnknownCommand          UNKNOWN_COMMAND
    │   ├── MissingParameter        MISSING_PARAMETER
    │   ├── InvalidInteger          INVALID_INTEGER
    │   ├── InvalidBoolean          INVALID_BOOLEAN
    │   ├── InvalidParameter        INVALID_PARAMETER
    │   ├── InvalidModule           INVALID_MODULE
    │   ├── UnknownType             UNKNOWN_TYPE
    │   ├── InvalidXml              INVALID_XML
    │   ├── InvalidWorkflowParameters  INVALID_WORKFLOW_PARAMETERS
    │   └── InvalidSchedule         INVALID_SCHEDULE
    ├── InsufficientRights          INSUFFICIENT_RIGHTS
    ├── NotFound                    an object named by the request does not exist
    │   ├── UnknownObject           UNKNOWN_OBJECT   (lookup by id)
    │   ├── UnknownObjectName       UKNOWN_OBJECT    (lookup by name, sic)
    │   ├── UnknownInstance         UNKNOWN_INSTANCE
    │   ├── UnknownWorkflow         UNKNOWN_WORKFLOW
    │   ├── UnknownUser             UNKNOWN_USER
    │   ├── UnknownQueue            UNKNOWN_QUEUE
    │   ├── UnknownTag              UNKNOWN_TAG
    │   ├── UnknownTagOrInstance    UNKNOWN_TAG_OR_INSTANCE
    │   ├── UnknownNotification     UNKNOWN_NOTIFICATION
    │   ├── UnknownNotificationType UNKNOWN_NOTIFICATION_TYPE
    │   ├── UnknownRetrySchedule    UNKNOWN_RETRY_SCHEDULE
    │   ├── UnknownWorkflowSchedule UNKNOWN_WORKFLOW_SCHEDULE
    │   ├── UnknownLauncher         UNKNOWN_LAUNCHER
    │   ├── UnknownDisplay          UNKNOWN_DISPLAY
    │   ├── UnknownChannel          UNKNOWN_CHANNEL
    │   ├── UnknownChannelGroup     UNKNOWN_CHANNELGROUP
    │   ├── UnknownAlert            UNKNOWN_ALERT
    │   └── UnknownTask             code None    (a task the instance does not have)
    ├── Conflict                    the object is in the wrong state for the request
    │   ├── WorkflowAlreadyExists   WORKFLOW_ALREADY_EXISTS
    │   ├── InstanceIsRunning       INSTANCE_IS_RUNNING
    │   ├── InstanceAlreadyTagged   INSTANCE_ALREADY_TAGGED
    │   ├── AlreadyNoRights         ALREADY_NO_RIGHTS
    │   └── WrongNode               WRONG_NODE
    ├── TimedOut                    TIMED_OUT
    ├── TooManyInstances            MAX_INSTANCES_REACHED (ours: workflowinstance.max)
    ├── StorageTypeError            TYPE_ERROR   (storage module)
    ├── SqlError                    SQL_ERROR
    ├── InvalidConnectionString     code None    (client side, never sent)
    ├── AuthError                   AUTH_ERROR, fatal
    │   └── CredentialError         the stored credential cannot be used (carries a reason)
    └── UnexpectedException         UNEXPECTED_EXCEPTION, fatal
        └── ProtocolError           the byte stream cannot be read as XML messages
            ├── XmlSyntaxError      "Invalid query XML structure : …"
            │   └── IncompleteMessage  end of stream inside a message
            └── MessageTooLarge     a message exceeds the size limit
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "ERROR_CLASSES",
    "AlreadyNoRights",
    "ApiError",
    "AuthError",
    "Conflict",
    "CredentialError",
    "IncompleteMessage",
    "InstanceAlreadyTagged",
    "InstanceIsRunning",
    "InsufficientRights",
    "InvalidBoolean",
    "InvalidConnectionString",
    "InvalidInteger",
    "InvalidModule",
    "InvalidParameter",
    "InvalidSchedule",
    "InvalidWorkflowParameters",
    "InvalidXml",
    "MessageTooLarge",
    "MissingParameter",
    "NotFound",
    "ProtocolError",
    "RequestError",
    "SqlError",
    "StorageTypeError",
    "TimedOut",
    "TooManyInstances",
    "UnexpectedException",
    "UnknownAlert",
    "UnknownChannel",
    "UnknownChannelGroup",
    "UnknownCommand",
    "UnknownDisplay",
    "UnknownInstance",
    "UnknownLauncher",
    "UnknownNotification",
    "UnknownNotificationType",
    "UnknownObject",
    "UnknownObjectName",
    "UnknownQueue",
    "UnknownRetrySchedule",
    "UnknownTag",
    "UnknownTask",
    "UnknownTagOrInstance",
    "UnknownType",
    "UnknownUser",
    "UnknownWorkflow",
    "UnknownWorkflowSchedule",
    "WorkflowAlreadyExists",
    "WrongNode",
    "XmlSyntaxError",
    "error_for_code",
]


class ApiError(Exception):
    """An error reported to an API client.

    Raise it directly only for evQueue's code-less errors; otherwise raise the subclass that
    carries the code.

    Attributes:
        code: evQueue's error code, or None.
        fatal: whether the connection must be closed after reporting the error.
        message: the text sent as ``error="…"``.
    """

    code: str | None = None
    default_message: ClassVar[str] = "Unexpected error"
    fatal: bool = False

    def __init__(self, message: str | None = None, *, fatal: bool | None = None) -> None:
        """Build the error.

        Args:
            message: the client-visible text; the class's default message when None.
            fatal: override the class's ``fatal`` default for this instance.
        """
        text = self.default_message if message is None else message
        super().__init__(text)
        self.message = text
        if fatal is not None:
            self.fatal = fatal


# --- the request is wrong ---------------------------------------------------------------------


class RequestError(ApiError):
    """The request is malformed or names something that cannot exist."""


class UnknownCommand(RequestError):
    """Unknown root element, or unknown action of a known group."""

    code = "UNKNOWN_COMMAND"
    default_message = "Unknown command or action"


class MissingParameter(RequestError):
    """A required attribute is absent."""

    code = "MISSING_PARAMETER"

    @classmethod
    def attribute(cls, name: str) -> MissingParameter:
        """Return evQueue's error for a missing attribute: ``Missing 'X' attribute``."""
        return cls(f"Missing '{name}' attribute")


class InvalidInteger(RequestError):
    """An attribute does not start with an integer."""

    code = "INVALID_INTEGER"

    @classmethod
    def attribute(cls, name: str) -> InvalidInteger:
        """Return ``Attribute 'X' has invalid integer value``."""
        return cls(f"Attribute '{name}' has invalid integer value")


class InvalidBoolean(RequestError):
    """An attribute is neither yes, no nor an integer."""

    code = "INVALID_BOOLEAN"

    @classmethod
    def attribute(cls, name: str) -> InvalidBoolean:
        """Return ``Attribute 'X' has invalid boolean value``."""
        return cls(f"Attribute '{name}' has invalid boolean value")


class InvalidParameter(RequestError):
    """A value is out of its domain (names, base64, profile, scheduler, …)."""

    code = "INVALID_PARAMETER"


class InvalidModule(RequestError):
    """``control action="reload"`` names an unknown module."""

    code = "INVALID_MODULE"


class UnknownType(RequestError):
    """Unknown ``type`` of status or statistics query."""

    code = "UNKNOWN_TYPE"
    default_message = "Unknown type"


class InvalidXml(RequestError):
    """An XML document inside a request (or a websocket message) is not valid."""

    code = "INVALID_XML"
    default_message = "Invalid XML document"


class InvalidWorkflowParameters(RequestError):
    """Launch parameters do not match the workflow's declared parameters."""

    code = "INVALID_WORKFLOW_PARAMETERS"


class InvalidSchedule(RequestError):
    """A schedule string or retry schedule is malformed."""

    code = "INVALID_SCHEDULE"


class InsufficientRights(ApiError):
    """The user lacks the right the command needs."""

    code = "INSUFFICIENT_RIGHTS"
    default_message = "insufficient rights"


# --- objects that do not exist ----------------------------------------------------------------


class NotFound(ApiError):
    """An object named by the request does not exist."""


class UnknownObject(NotFound):
    """Lookup by id failed: ``Unknown <Type> ID : N``."""

    code = "UNKNOWN_OBJECT"

    @classmethod
    def by_id(cls, object_type: str, object_id: int) -> UnknownObject:
        """Return evQueue's message for an unknown id, e.g. ``Unknown Workflow ID : 3``."""
        return cls(f"Unknown {object_type} ID : {object_id}")


class UnknownObjectName(NotFound):
    """Lookup by name failed: ``Unknown <Type> name : X`` (code misspelt as in evQueue)."""

    code = "UKNOWN_OBJECT"

    @classmethod
    def by_name(cls, object_type: str, name: str) -> UnknownObjectName:
        """Return evQueue's message for an unknown name, e.g. ``Unknown Workflow name : x``."""
        return cls(f"Unknown {object_type} name : {name}")


class UnknownInstance(NotFound):
    code = "UNKNOWN_INSTANCE"
    default_message = "Unknown workflow instance"


class UnknownWorkflow(NotFound):
    code = "UNKNOWN_WORKFLOW"


class UnknownUser(NotFound):
    code = "UNKNOWN_USER"


class UnknownQueue(NotFound):
    code = "UNKNOWN_QUEUE"


class UnknownTag(NotFound):
    code = "UNKNOWN_TAG"


class UnknownTagOrInstance(NotFound):
    code = "UNKNOWN_TAG_OR_INSTANCE"


class UnknownNotification(NotFound):
    code = "UNKNOWN_NOTIFICATION"


class UnknownNotificationType(NotFound):
    code = "UNKNOWN_NOTIFICATION_TYPE"


class UnknownRetrySchedule(NotFound):
    code = "UNKNOWN_RETRY_SCHEDULE"


class UnknownWorkflowSchedule(NotFound):
    code = "UNKNOWN_WORKFLOW_SCHEDULE"


class UnknownLauncher(NotFound):
    code = "UNKNOWN_LAUNCHER"


class UnknownDisplay(NotFound):
    code = "UNKNOWN_DISPLAY"


class UnknownChannel(NotFound):
    code = "UNKNOWN_CHANNEL"


class UnknownChannelGroup(NotFound):
    code = "UNKNOWN_CHANNELGROUP"


class UnknownAlert(NotFound):
    code = "UNKNOWN_ALERT"


class UnknownTask(NotFound):
    """A task evqid or tid that the instance does not have (no code, as in evQueue)."""


# --- wrong state ------------------------------------------------------------------------------


class Conflict(ApiError):
    """The object exists but its state forbids the request."""


class WorkflowAlreadyExists(Conflict):
    code = "WORKFLOW_ALREADY_EXISTS"


class InstanceIsRunning(Conflict):
    code = "INSTANCE_IS_RUNNING"


class InstanceAlreadyTagged(Conflict):
    code = "INSTANCE_ALREADY_TAGGED"


class AlreadyNoRights(Conflict):
    code = "ALREADY_NO_RIGHTS"


class WrongNode(Conflict):
    code = "WRONG_NODE"
    default_message = (
        "Workflow instance is still running on another node, query the corresponding node"
    )


# --- others -----------------------------------------------------------------------------------


class TimedOut(ApiError):
    code = "TIMED_OUT"
    default_message = "Wait timed out"


class TooManyInstances(ApiError):
    """A launch would pass ``workflowinstance.max`` instances running on this node."""

    code = "MAX_INSTANCES_REACHED"


class StorageTypeError(ApiError):
    """A storage variable has the wrong type for the operation."""

    code = "TYPE_ERROR"


class SqlError(ApiError):
    """The database refused a statement."""

    code = "SQL_ERROR"


class InvalidConnectionString(ApiError):
    """A ``tcp://`` / ``unix://`` connection string cannot be parsed (client side)."""


# --- fatal ------------------------------------------------------------------------------------


class AuthError(ApiError):
    """Authentication failed; the connection is closed."""

    code = "AUTH_ERROR"
    default_message = "Invalid authentication"
    fatal = True


class CredentialError(AuthError):
    """A user's stored credential cannot produce an HMAC key.

    The client only ever sees ``Invalid authentication``; ``reason`` is for the server's log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class UnexpectedException(ApiError):
    """evQueue's catch-all code of the connection-level handler."""

    code = "UNEXPECTED_EXCEPTION"
    fatal = True


class ProtocolError(UnexpectedException):
    """The incoming byte stream cannot be read as a sequence of XML messages."""


class XmlSyntaxError(ProtocolError):
    """A message is not well-formed XML, or uses a refused XML feature (DTD, depth)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid query XML structure : {detail}")
        self.detail = detail


class IncompleteMessage(XmlSyntaxError):
    """The peer ended the stream in the middle of a message."""

    def __init__(self) -> None:
        super().__init__("unexpected end of data")


class MessageTooLarge(ProtocolError):
    """A message is longer than the reader's size limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Message too large (limit is {limit} bytes)")
        self.limit = limit


def _collect_codes() -> dict[str, type[ApiError]]:
    codes: dict[str, type[ApiError]] = {}
    pending: list[type[ApiError]] = [ApiError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        # The first class found for a code is the most general one (tree walked top-down).
        if cls.code is not None and cls.code not in codes:
            codes[cls.code] = cls
    return codes


#: evQueue error code → the class that carries it (the most general one for shared codes).
ERROR_CLASSES: dict[str, type[ApiError]] = _collect_codes()


def error_for_code(code: str | None, message: str) -> ApiError:
    """Rebuild the typed error of a KO response (what a client raises).

    Args:
        code: the ``error-code`` attribute, or None when absent.
        message: the ``error`` attribute.

    Returns:
        An instance of the class carrying ``code``; a plain :class:`ApiError` (keeping the
        code, if any) for a code this version does not know.
    """
    cls = ERROR_CLASSES.get(code or "", ApiError)
    error = ApiError.__new__(cls)
    # Bypass subclass constructors with extra arguments (XmlSyntaxError, CredentialError…).
    ApiError.__init__(error, message)
    if cls is ApiError and code:
        error.code = code  # a code this version does not know: keep it anyway
    return error
