"""Notification types (plugins), notifications, and workflow subscriptions.

Tables: ``t_notification_type``, ``t_notification``, ``t_workflow_notification``.

Rules:

* A type's binary (the plugin executable) and configuration are blobs, read only on demand
  (``get_notification_type_binary``, ``list_notification_type_binaries``, ``..._conf``),
  never with the type's row.
* Type names are unique (``DuplicateName``). Deleting a type deletes its notifications and
  their subscriptions.
* A notification with ``subscribe_all`` is (re)subscribed to every workflow when it is
  created or edited, in the same transaction, as evQueue does.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.tables import (
    t_notification,
    t_notification_type,
    t_workflow,
    t_workflow_notification,
)

__all__ = [
    "NotificationBinary",
    "NotificationRow",
    "NotificationTypeRow",
    "all_workflow_notifications",
    "clear_notifications",
    "create_notification",
    "create_notification_type",
    "delete_notification",
    "delete_notification_type",
    "get_notification",
    "get_notification_type",
    "get_notification_type_binary",
    "get_notification_type_by_name",
    "get_notification_type_conf",
    "list_notification_type_binaries",
    "list_notification_types",
    "list_notifications",
    "set_notification_type_conf",
    "subscribe_notification",
    "unsubscribe_notification",
    "update_notification",
    "workflow_notifications",
]

_nt = t_notification_type.c
_n = t_notification.c
_wn = t_workflow_notification.c


@dataclass(frozen=True, slots=True)
class NotificationTypeRow:
    """A notification plugin, without its blobs."""

    id: int
    scope: str
    name: str
    description: str
    manifest: str


@dataclass(frozen=True, slots=True)
class NotificationBinary:
    """A plugin's executable, as synced to ``notifications.tasks.directory``."""

    type_id: int
    name: str
    content: bytes


@dataclass(frozen=True, slots=True)
class NotificationRow:
    """A notification: an instance of a type with its JSON parameters."""

    id: int
    type_id: int
    name: str
    subscribe_all: bool
    parameters: str
    scope: str | None


# --- types -------------------------------------------------------------------------------

_TYPE_COLUMNS = (
    _nt.notification_type_id, _nt.notification_type_scope, _nt.notification_type_name,
    _nt.notification_type_description, _nt.notification_type_manifest,
)


def _type(row: Row[Any]) -> NotificationTypeRow:
    return NotificationTypeRow(
        id=row.notification_type_id, scope=row.notification_type_scope,
        name=row.notification_type_name, description=row.notification_type_description,
        manifest=row.notification_type_manifest,
    )


async def list_notification_types(db: Database) -> list[NotificationTypeRow]:
    """Every notification type, by name."""
    rows = await db.fetch_all(select(*_TYPE_COLUMNS).order_by(_nt.notification_type_name))
    return [_type(r) for r in rows]


async def get_notification_type(db: Database, type_id: int) -> NotificationTypeRow | None:
    """The notification type with this id, or None."""
    row = await db.fetch_one(select(*_TYPE_COLUMNS).where(_nt.notification_type_id == type_id))
    return _type(row) if row else None


async def get_notification_type_by_name(db: Database, name: str) -> NotificationTypeRow | None:
    """The notification type with this name, or None."""
    row = await db.fetch_one(select(*_TYPE_COLUMNS).where(_nt.notification_type_name == name))
    return _type(row) if row else None


async def create_notification_type(
    db: Database, name: str, description: str, manifest: str, binary: bytes | None,
    scope: str = "WORKFLOW",
) -> int:
    """Register a plugin; returns its id.

    Raises:
        DuplicateName: A type with this name exists.
    """
    return await db.insert(
        insert(t_notification_type).values(
            notification_type_scope=scope, notification_type_name=name,
            notification_type_description=description, notification_type_manifest=manifest,
            notification_type_binary_content=binary,
        )
    )


async def delete_notification_type(db: Database, type_id: int) -> bool:
    """Unregister a plugin with its notifications and their subscriptions."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            delete(t_notification_type).where(_nt.notification_type_id == type_id)
        )
        ids = select(_n.notification_id).where(_n.notification_type_id == type_id)
        await conn.execute(delete(t_workflow_notification).where(_wn.notification_id.in_(ids)))
        await conn.execute(delete(t_notification).where(_n.notification_type_id == type_id))
        return bool(result.rowcount)

    return await db.write(work)


async def get_notification_type_binary(db: Database, type_id: int) -> bytes | None:
    """A plugin's executable, or None."""
    query = select(_nt.notification_type_binary_content).where(
        _nt.notification_type_id == type_id
    )
    value = await db.scalar(query)
    return bytes(value) if value is not None else None


async def list_notification_type_binaries(db: Database) -> list[NotificationBinary]:
    """Every plugin that has an executable, with the executable."""
    query = select(
        _nt.notification_type_id, _nt.notification_type_name,
        _nt.notification_type_binary_content,
    ).where(_nt.notification_type_binary_content.is_not(None))
    return [
        NotificationBinary(r.notification_type_id, r.notification_type_name,
                           bytes(r.notification_type_binary_content))
        for r in await db.fetch_all(query.order_by(_nt.notification_type_id))
    ]


async def get_notification_type_conf(db: Database, type_id: int) -> bytes | None:
    """A plugin's configuration (JSON bytes), or None when unset."""
    query = select(_nt.notification_type_conf_content).where(_nt.notification_type_id == type_id)
    value = await db.scalar(query)
    return bytes(value) if value is not None else None


async def set_notification_type_conf(db: Database, type_id: int, content: bytes) -> bool:
    """Store a plugin's configuration; returns False if the type does not exist."""
    stmt = (
        update(t_notification_type)
        .where(_nt.notification_type_id == type_id)
        .values(notification_type_conf_content=content)
    )
    return await db.execute(stmt) > 0


# --- notifications -----------------------------------------------------------------------


def _notification(row: Row[Any]) -> NotificationRow:
    return NotificationRow(
        id=row.notification_id, type_id=row.notification_type_id, name=row.notification_name,
        subscribe_all=bool(row.notification_subscribe_all),
        parameters=row.notification_parameters, scope=row.notification_type_scope,
    )


def _select_notifications() -> Any:
    return select(t_notification, _nt.notification_type_scope).outerjoin(
        t_notification_type, _nt.notification_type_id == _n.notification_type_id
    )


async def list_notifications(db: Database, scope: str | None = None) -> list[NotificationRow]:
    """Every notification (of one scope, WORKFLOW or ELOGS, if given), by id."""
    query = _select_notifications().order_by(_n.notification_id)
    if scope is not None:
        query = query.where(_nt.notification_type_scope == scope)
    return [_notification(r) for r in await db.fetch_all(query)]


async def get_notification(db: Database, notification_id: int) -> NotificationRow | None:
    """The notification with this id, or None."""
    row = await db.fetch_one(_select_notifications().where(_n.notification_id == notification_id))
    return _notification(row) if row else None


async def _subscribe_all_workflows(conn: AsyncConnection, notification_id: int) -> None:
    await conn.execute(
        delete(t_workflow_notification).where(_wn.notification_id == notification_id)
    )
    workflow_ids = (await conn.execute(select(t_workflow.c.workflow_id))).scalars().all()
    if workflow_ids:
        await conn.execute(
            insert(t_workflow_notification),
            [{"workflow_id": wid, "notification_id": notification_id} for wid in workflow_ids],
        )


async def create_notification(
    db: Database, type_id: int, name: str, subscribe_all: bool, parameters: str
) -> int:
    """Create a notification (subscribed to every workflow if ``subscribe_all``)."""

    async def work(conn: AsyncConnection) -> int:
        result = await conn.execute(
            insert(t_notification).values(
                notification_type_id=type_id, notification_name=name,
                notification_subscribe_all=int(subscribe_all), notification_parameters=parameters,
            )
        )
        notification_id = int(result.inserted_primary_key[0])
        if subscribe_all:
            await _subscribe_all_workflows(conn, notification_id)
        return notification_id

    return await db.write(work)


async def update_notification(
    db: Database, notification_id: int, type_id: int, name: str, subscribe_all: bool,
    parameters: str,
) -> bool:
    """Change a notification; returns False if it does not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            update(t_notification)
            .where(_n.notification_id == notification_id)
            .values(
                notification_type_id=type_id, notification_name=name,
                notification_subscribe_all=int(subscribe_all), notification_parameters=parameters,
            )
        )
        if result.rowcount and subscribe_all:
            await _subscribe_all_workflows(conn, notification_id)
        return bool(result.rowcount)

    return await db.write(work)


async def delete_notification(db: Database, notification_id: int) -> bool:
    """Delete a notification and its subscriptions; returns False if it did not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            delete(t_notification).where(_n.notification_id == notification_id)
        )
        await conn.execute(
            delete(t_workflow_notification).where(_wn.notification_id == notification_id)
        )
        return bool(result.rowcount)

    return await db.write(work)


# --- workflow subscriptions --------------------------------------------------------------


async def workflow_notifications(db: Database, workflow_id: int) -> list[int]:
    """Ids of the notifications a workflow is subscribed to."""
    query = (
        select(_wn.notification_id)
        .where(_wn.workflow_id == workflow_id)
        .order_by(_wn.notification_id)
    )
    return [r.notification_id for r in await db.fetch_all(query)]


async def all_workflow_notifications(db: Database) -> dict[int, list[int]]:
    """Every subscription: workflow id -> notification ids."""
    query = select(t_workflow_notification).order_by(_wn.workflow_id, _wn.notification_id)
    found: dict[int, list[int]] = defaultdict(list)
    for row in await db.fetch_all(query):
        found[row.workflow_id].append(row.notification_id)
    return dict(found)


async def subscribe_notification(db: Database, workflow_id: int, notification_id: int) -> bool:
    """Subscribe a workflow to a notification; returns False if it already was."""
    try:
        await db.execute(
            insert(t_workflow_notification).values(
                workflow_id=workflow_id, notification_id=notification_id
            )
        )
    except DuplicateName:
        return False
    return True


async def unsubscribe_notification(db: Database, workflow_id: int, notification_id: int) -> bool:
    """Unsubscribe a workflow from a notification; returns False if it was not subscribed."""
    stmt = delete(t_workflow_notification).where(
        _wn.workflow_id == workflow_id, _wn.notification_id == notification_id
    )
    return await db.execute(stmt) > 0


async def clear_notifications(db: Database, workflow_id: int) -> int:
    """Unsubscribe a workflow from every notification; returns how many there were."""
    return await db.execute(delete(t_workflow_notification).where(_wn.workflow_id == workflow_id))
