"""The log lists: ``logs`` (engine log), ``logsapi`` (audit of changes), ``logsnotifications``.

Rules (protocol.md §4.5, evQueue's ``Logs``, ``LogsAPI``, ``LogsNotifications``):

- ``action="list"`` only; ``limit`` (default 100) and ``offset`` (default 0) page the rows,
  newest first. No right is needed, as in evQueue.
- ``logs`` takes ``filter_level`` (``LOG_EMERG`` … ``LOG_DEBUG``, default ``LOG_DEBUG``): lines at
  least that severe. An unknown level is "Unknown filter level" (no code, as in evQueue).
- Every list also takes ``filter_node`` (ours): only the rows of that node.
- Rows: ``<log node level message timestamp/>``; ``<log node user object_id object_type
  object_name group action timestamp/>`` where ``object_name`` is the object's current name
  (``unknown`` when it is gone); ``<log node pid message timestamp/>``. Times are
  ``YYYY-MM-DD HH:MM:SS``.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.config.values import LOG_LEVELS
from evqueue.protocol import TIME_FORMAT, ApiError, Command, InvalidInteger, Response
from evqueue.storage import logs as store
from evqueue.storage import queues, retry_schedules, tags, users, workflow_schedules, workflows
from evqueue.storage.database import Database

__all__ = ["routes"]

routes = CommandTable()

_LEVEL_NAMES = {number: name for name, number in LOG_LEVELS.items()}


def _page(cmd: Command) -> tuple[int, int]:
    limit = cmd.get_int("limit", 100)
    offset = cmd.get_int("offset", 0)
    for name, value in (("limit", limit), ("offset", offset)):
        if value < 0:
            raise InvalidInteger.attribute(name)
    return limit, offset


def _time(value: datetime.datetime | str) -> str:
    return value.strftime(TIME_FORMAT) if isinstance(value, datetime.datetime) else str(value)


def _log(**attrs: str | int) -> etree._Element:
    element = etree.Element("log")
    for name, value in attrs.items():
        element.set(name, str(value))
    return element


@routes.command("logs", "list")
async def logs_list(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<logs action="list" [limit] [offset] [filter_level] [filter_node]/>``."""
    limit, offset = _page(cmd)
    level_name = cmd.get_str("filter_level", "LOG_DEBUG")
    if level_name not in LOG_LEVELS:
        raise ApiError("Unknown filter level")
    rows = await store.list_logs(ctx.db, limit, offset, max_level=LOG_LEVELS[level_name],
                                 node_name=cmd.get_str("filter_node", None))
    return Response.success(payload=[
        _log(node=row.node_name, level=_LEVEL_NAMES.get(row.level, str(row.level)),
             message=row.message, timestamp=_time(row.timestamp))
        for row in rows
    ])


async def _workflow_name(db: Database, object_id: int) -> str | None:
    row = await workflows.get_workflow(db, object_id)
    return row.name if row else None


async def _schedule_name(db: Database, object_id: int) -> str | None:
    row = await workflow_schedules.get_workflow_schedule(db, object_id)
    return row.workflow_name if row else None


async def _retry_schedule_name(db: Database, object_id: int) -> str | None:
    row = await retry_schedules.get_retry_schedule(db, object_id)
    return row.name if row else None


async def _tag_name(db: Database, object_id: int) -> str | None:
    row = await tags.get_tag(db, object_id)
    return row.label if row else None


async def _queue_name(db: Database, object_id: int) -> str | None:
    row = await queues.get_queue(db, object_id)
    return row.name if row else None


async def _user_name(db: Database, object_id: int) -> str | None:
    row = await users.get_user(db, object_id)
    return row.login if row else None


# How the current name of an audited object is found, by object type.
_NAMES: dict[str, Callable[[Database, int], Awaitable[str | None]]] = {
    "Workflow": _workflow_name,
    "WorkflowSchedule": _schedule_name,
    "RetrySchedule": _retry_schedule_name,
    "Tag": _tag_name,
    "Queue": _queue_name,
    "User": _user_name,
}


@routes.command("logsapi", "list")
async def logsapi_list(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<logsapi action="list" [limit] [offset] [filter_node]/>``."""
    limit, offset = _page(cmd)
    rows = await store.list_api_logs(ctx.db, limit, offset,
                                     node_name=cmd.get_str("filter_node", None))
    names: dict[tuple[str, int], str] = {}
    payload = []
    for row in rows:
        key = (row.object_type, row.object_id)
        if key not in names:
            lookup = _NAMES.get(row.object_type)
            found = await lookup(ctx.db, row.object_id) if lookup else None
            names[key] = found if found is not None else "unknown"
        payload.append(_log(
            node=row.node_name, user=row.user_login or "", object_id=row.object_id,
            object_type=row.object_type, object_name=names[key], group=row.group,
            action=row.action, timestamp=_time(row.timestamp)))
    return Response.success(payload=payload)


@routes.command("logsnotifications", "list")
async def logsnotifications_list(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<logsnotifications action="list" [limit] [offset] [filter_node]/>``."""
    limit, offset = _page(cmd)
    rows = await store.list_notification_logs(ctx.db, limit, offset,
                                              node_name=cmd.get_str("filter_node", None))
    return Response.success(payload=[
        _log(node=row.node_name, pid=row.pid, message=row.message, timestamp=_time(row.timestamp))
        for row in rows
    ])
