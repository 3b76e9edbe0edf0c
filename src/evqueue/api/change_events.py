"""The events a successful API command publishes (protocol.md §6.1), declared in one table.

Rules (where evQueue 3.3 calls ``Events::Create`` in its command handlers):

- :data:`CHANGE_EVENTS` maps a command (group, action) to the event types it publishes, in
  order, and to the object those events carry. Nothing is published when the command fails.
- Events go to this node's bus only (``ctx.services.events``): events are local to the node
  where the change was made; the other nodes reload without publishing anything.
- Object ids are evQueue's: 0 for queues, retry schedules, tags, notifications, notification
  types and git; the object's id for workflows, workflow schedules, users, instances, variables,
  launchers and displays; the *user's* id for a launcher grant or revoke (USER_MODIFIED).
- The id is read from the reply of a creation (``workflow-id`` …), else from the command's id
  attribute, else looked up from the name the command gives (a workflow or user ``name``, a
  variable's ``path`` and ``name``), before the command runs, since a deletion removes what the
  name found. A name that finds nothing before (a variable being created) is looked up again
  after. An id that cannot be told is 0; looking it up never changes what the command does.
- :func:`publishing` wraps the handlers of the commands in the table; the runner gives the
  dispatcher the wrapped tables. The scheduler, the engine and the notification plugins
  publish their own events (instances, tasks, queues, schedule runs, LOG_NOTIFICATION), the
  API audit log publishes LOG_API and the database log LOG_ENGINE.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable, Handler, Route
from evqueue.engine.events import EventType
from evqueue.errors import ApiError
from evqueue.protocol import Command, Response, parse_cxx_int
from evqueue.storage import storage_module, users, workflows
from evqueue.storage.database import Database
from evqueue.storage.errors import StorageError

__all__ = ["CHANGE_EVENTS", "ChangeEvents", "ObjectRef", "object_id", "publishing"]

log = logging.getLogger("evqueue.api.events")

#: ``await lookup(db, cmd)``: the id of the object the command names otherwise than by id.
NameLookup = Callable[[Database, Command], Awaitable[int | None]]


async def _workflow_named(db: Database, cmd: Command) -> int | None:
    name = cmd.attrs.get("name")
    row = await workflows.get_workflow_by_name(db, name) if name else None
    return row.id if row is not None and row.name == name else None


async def _user_named(db: Database, cmd: Command) -> int | None:
    name = cmd.attrs.get("name")
    row = await users.get_user_by_login(db, name) if name else None
    return row.id if row is not None and row.login == name else None


async def _variable_named(db: Database, cmd: Command) -> int | None:
    path, name = cmd.attrs.get("path", ""), cmd.attrs.get("name", "")
    if path and not name:  # the absolute form: path="a/b/c" names c in a/b
        path, _, name = path.rpartition("/")
    if not (path and name):
        return None
    row = await storage_module.find_variable(db, path, name)
    return row.id if row is not None else None


@dataclass(frozen=True)
class ObjectRef:
    """Where a command's object id is found.

    Attributes:
        attribute: the command attribute holding the id.
        created: the reply attribute holding the id of a created object.
        named: finds the id from the command's name attributes when it has no id.
    """

    attribute: str = "id"
    created: str | None = None
    named: NameLookup | None = None


#: The object of a workflow command: ``id``, else ``name``; ``workflow-id`` once created.
WORKFLOW = ObjectRef(created="workflow-id", named=_workflow_named)
#: The object of a user command: ``id``, else ``name``; ``user-id`` once created.
USER = ObjectRef(created="user-id", named=_user_named)
#: The user a launcher is granted to or revoked from.
GRANTEE = ObjectRef(attribute="user_id")
#: A variable: ``id``, else ``path`` and ``name``.
VARIABLE = ObjectRef(named=_variable_named)
#: An object named by ``id``, its reply attribute once created.
SCHEDULE = ObjectRef(created="schedule-id")
LAUNCHER = ObjectRef(created="launcher-id")
DISPLAY = ObjectRef(created="display-id")
INSTANCE = ObjectRef()


@dataclass(frozen=True)
class ChangeEvents:
    """What one command publishes once it succeeded.

    Attributes:
        types: the event types, in the order they are published.
        of: where their object id comes from; None: they carry 0.
    """

    types: tuple[EventType, ...]
    of: ObjectRef | None = None


def _events(*types: EventType, of: ObjectRef | None = None) -> ChangeEvents:
    return ChangeEvents(types, of)


E = EventType

#: (group, action) → the events of a successful command (evQueue 3.3's handlers).
CHANGE_EVENTS: Mapping[tuple[str, str], ChangeEvents] = {
    ("queue", "create"): _events(E.QUEUE_CREATED),
    ("queue", "edit"): _events(E.QUEUE_MODIFIED),
    ("queue", "delete"): _events(E.QUEUE_REMOVED),
    ("retry_schedule", "create"): _events(E.RETRYSCHEDULE_CREATED),
    ("retry_schedule", "edit"): _events(E.RETRYSCHEDULE_MODIFIED),
    ("retry_schedule", "delete"): _events(E.RETRYSCHEDULE_REMOVED),
    ("workflow_schedule", "create"): _events(E.WORKFLOWSCHEDULE_CREATED, of=SCHEDULE),
    ("workflow_schedule", "edit"): _events(E.WORKFLOWSCHEDULE_MODIFIED, of=SCHEDULE),
    ("workflow_schedule", "lock"): _events(E.WORKFLOWSCHEDULE_MODIFIED, of=SCHEDULE),
    ("workflow_schedule", "unlock"): _events(E.WORKFLOWSCHEDULE_MODIFIED, of=SCHEDULE),
    ("workflow_schedule", "delete"): _events(E.WORKFLOWSCHEDULE_REMOVED, of=SCHEDULE),
    # a new workflow may be subscribed at once to the notifications of every workflow
    ("workflow", "create"): _events(E.WORKFLOW_CREATED, E.WORKFLOW_SUBSCRIBED, of=WORKFLOW),
    ("workflow", "edit"): _events(E.WORKFLOW_MODIFIED, of=WORKFLOW),
    ("workflow", "delete"): _events(E.WORKFLOW_REMOVED, of=WORKFLOW),
    ("workflow", "subscribe_notification"): _events(E.WORKFLOW_SUBSCRIBED, of=WORKFLOW),
    ("workflow", "unsubscribe_notification"): _events(E.WORKFLOW_UNSUBSCRIBED, of=WORKFLOW),
    ("workflow", "clear_notifications"): _events(E.WORKFLOW_UNSUBSCRIBED, of=WORKFLOW),
    ("user", "create"): _events(E.USER_CREATED, of=USER),
    ("user", "edit"): _events(E.USER_MODIFIED, of=USER),
    ("user", "change_password"): _events(E.USER_MODIFIED, of=USER),
    ("user", "update_preferences"): _events(E.USER_MODIFIED, of=USER),
    ("user", "clear_rights"): _events(E.USER_MODIFIED, of=USER),
    ("user", "grant"): _events(E.USER_MODIFIED, of=USER),
    ("user", "revoke"): _events(E.USER_MODIFIED, of=USER),
    ("user", "delete"): _events(E.USER_REMOVED, of=USER),
    ("tag", "create"): _events(E.TAG_CREATED),
    ("tag", "edit"): _events(E.TAG_MODIFIED),
    ("tag", "delete"): _events(E.TAG_REMOVED),
    ("notification", "create"): _events(E.NOTIFICATION_CREATED),
    ("notification", "edit"): _events(E.NOTIFICATION_MODIFIED),
    ("notification", "delete"): _events(E.NOTIFICATION_REMOVED),
    ("notification_type", "register"): _events(E.NOTIFICATION_TYPE_CREATED),
    # the workflows lose their subscriptions to the type's notifications first
    ("notification_type", "unregister"): _events(E.WORKFLOW_MODIFIED,
                                                 E.NOTIFICATION_TYPE_REMOVED),
    ("git", "pull"): _events(E.GIT_PULLED),
    ("git", "save_workflow"): _events(E.GIT_SAVED),
    ("git", "load_workflow"): _events(E.GIT_LOADED),
    ("git", "remove_workflow"): _events(E.GIT_REMOVED),
    ("instance", "tag"): _events(E.INSTANCE_TAGGED, of=INSTANCE),
    ("instance", "untag"): _events(E.INSTANCE_UNTAGGED, of=INSTANCE),
    ("instance", "delete"): _events(E.INSTANCE_REMOVED, of=INSTANCE),
    ("storage", "set"): _events(E.VARIABLE_SET, of=VARIABLE),
    ("storage", "append"): _events(E.VARIABLE_SET, of=VARIABLE),
    ("storage", "inc"): _events(E.VARIABLE_SET, of=VARIABLE),
    ("storage", "dec"): _events(E.VARIABLE_SET, of=VARIABLE),
    ("storage", "add"): _events(E.VARIABLE_SET, of=VARIABLE),
    ("storage", "unset"): _events(E.VARIABLE_UNSET, of=VARIABLE),
    ("launcher", "create"): _events(E.LAUNCHER_CREATED, of=LAUNCHER),
    ("launcher", "edit"): _events(E.LAUNCHER_MODIFIED, of=LAUNCHER),
    ("launcher", "delete"): _events(E.LAUNCHER_REMOVED, of=LAUNCHER),
    ("launcher", "grant"): _events(E.USER_MODIFIED, of=GRANTEE),
    ("launcher", "revoke"): _events(E.USER_MODIFIED, of=GRANTEE),
    ("display", "create"): _events(E.DISPLAY_CREATED, of=DISPLAY),
    ("display", "edit"): _events(E.DISPLAY_MODIFIED, of=DISPLAY),
    ("display", "delete"): _events(E.DISPLAY_REMOVED, of=DISPLAY),
}


async def _named_id(ref: ObjectRef, db: Database, cmd: Command) -> int | None:
    """The id the command gives or names; None when it cannot be told (never raises)."""
    given = parse_cxx_int(cmd.attrs.get(ref.attribute, ""))
    if given:
        return given
    if ref.named is None:
        return None
    try:
        return await ref.named(db, cmd)
    except (StorageError, ApiError) as exc:  # the command itself will meet the same problem
        log.debug("no object id for %s/%s: %s", cmd.group, cmd.action, exc)
        return None


async def object_id(ref: ObjectRef | None, db: Database, cmd: Command, response: Response,
                    named_before: int | None) -> int:
    """The object id of the events of a successful command.

    Args:
        ref: where the id is found (None: the events carry 0).
        db: the store, for a name looked up after the command.
        cmd: the command.
        response: its reply.
        named_before: the id :func:`_named_id` found before the command ran.
    """
    if ref is None:
        return 0
    if ref.created is not None and ref.created in response.attrs:
        return parse_cxx_int(response.attrs[ref.created]) or 0
    if named_before is not None:
        return named_before
    return await _named_id(ref, db, cmd) or 0


def _publishing_handler(handler: Handler, events: ChangeEvents) -> Handler:
    async def handle(ctx: ApiContext, session: Session, cmd: Command) -> Response:
        ref = events.of
        before = await _named_id(ref, ctx.db, cmd) if ref is not None else None
        response = await handler(ctx, session, cmd)
        bus = ctx.services.events
        if response.ok and bus is not None:
            object_id_ = await object_id(ref, ctx.db, cmd, response, before)
            for event_type in events.types:
                bus.emit(event_type, object_id_)
        return response

    handle.__name__ = handler.__name__
    handle.__doc__ = handler.__doc__
    return handle


def publishing(tables: Iterable[CommandTable]) -> list[CommandTable]:
    """The tables with each command of :data:`CHANGE_EVENTS` publishing its events.

    Args:
        tables: the command tables served.

    Returns:
        New tables (the given ones are not modified).
    """
    wrapped = []
    for table in tables:
        routes: list[Route] = []
        for route in table.routes:
            events = CHANGE_EVENTS.get((route.group, route.action or ""))
            if events is not None:
                route = dataclasses.replace(route,
                                            handler=_publishing_handler(route.handler, events))
            routes.append(route)
        wrapped.append(CommandTable(routes, set(table.admin_groups)))
    return wrapped
