"""The engine log (``t_log``), the API audit log (``t_log_api``) and the notification log
(``t_log_notifications``): inserts and paged lists, newest first.

Rules: levels are syslog numbers (0 = LOG_EMERG … 7 = LOG_DEBUG), so "at least as severe as"
is ``level <= max_level``. Timestamps are passed by the caller (default: now). Lists are
ordered by timestamp then id, both descending, and paged with ``limit``/``offset``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import t_log, t_log_api, t_log_notifications, t_user
from evqueue.storage.timeutil import db_time

__all__ = [
    "ApiLogRow",
    "LogRow",
    "NotificationLogRow",
    "add_api_log",
    "add_log",
    "add_logs",
    "add_notification_log",
    "list_api_logs",
    "list_logs",
    "list_notification_logs",
]


@dataclass(frozen=True, slots=True)
class LogRow:
    """One engine log line."""

    node_name: str
    level: int
    message: str
    timestamp: datetime.datetime
    id: int = 0


@dataclass(frozen=True, slots=True)
class ApiLogRow:
    """One audited API change; ``user_login`` is None when the user is gone."""

    id: int
    node_name: str
    user_id: int
    user_login: str | None
    object_id: int
    object_type: str
    group: str
    action: str
    timestamp: datetime.datetime


@dataclass(frozen=True, slots=True)
class NotificationLogRow:
    """The stderr of a failed notification run."""

    id: int
    node_name: str
    pid: int
    message: str
    timestamp: datetime.datetime


# --- engine log --------------------------------------------------------------------------


async def add_log(
    db: Database, node_name: str, level: int, message: str,
    now: datetime.datetime | None = None,
) -> None:
    """Store one engine log line."""
    await add_logs(db, [LogRow(node_name, level, message, db_time(now))])


async def add_logs(db: Database, lines: Sequence[LogRow]) -> None:
    """Store several engine log lines in one transaction (their ``id`` is ignored)."""
    if not lines:
        return

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(
            insert(t_log),
            [
                {"node_name": line.node_name, "log_level": line.level,
                 "log_message": line.message, "log_timestamp": db_time(line.timestamp)}
                for line in lines
            ],
        )

    await db.write(work)


async def list_logs(
    db: Database, limit: int = 100, offset: int = 0, max_level: int | None = None,
    node_name: str | None = None,
) -> list[LogRow]:
    """Engine log lines, newest first, optionally at least as severe as ``max_level``."""
    c = t_log.c
    query = select(t_log).order_by(c.log_timestamp.desc(), c.log_id.desc())
    if max_level is not None:
        query = query.where(c.log_level <= max_level)
    if node_name is not None:
        query = query.where(c.node_name == node_name)
    rows = await db.fetch_all(query.limit(limit).offset(offset))
    return [
        LogRow(r.node_name, r.log_level, r.log_message, r.log_timestamp, id=r.log_id)
        for r in rows
    ]


# --- API audit log -----------------------------------------------------------------------


async def add_api_log(
    db: Database, node_name: str, user_id: int, object_id: int, object_type: str,
    group: str, action: str, now: datetime.datetime | None = None,
) -> None:
    """Audit one modifying API call (``object_type`` is e.g. ``Workflow`` or ``Queue``)."""
    await db.execute(
        insert(t_log_api).values(
            node_name=node_name, user_id=user_id, log_api_object_id=object_id,
            log_api_object_type=object_type, log_api_group=group, log_api_action=action,
            log_api_timestamp=db_time(now),
        )
    )


def _api_row(r: Any) -> ApiLogRow:
    return ApiLogRow(
        id=r.log_api_id, node_name=r.node_name, user_id=r.user_id, user_login=r.user_login,
        object_id=r.log_api_object_id, object_type=r.log_api_object_type,
        group=r.log_api_group, action=r.log_api_action, timestamp=r.log_api_timestamp,
    )


async def list_api_logs(
    db: Database, limit: int = 100, offset: int = 0, node_name: str | None = None
) -> list[ApiLogRow]:
    """Audited API calls, newest first, with the login of their user."""
    c = t_log_api.c
    query = (
        select(t_log_api, t_user.c.user_login)
        .outerjoin(t_user, t_user.c.user_id == c.user_id)
        .order_by(c.log_api_timestamp.desc(), c.log_api_id.desc())
    )
    if node_name is not None:
        query = query.where(c.node_name == node_name)
    return [_api_row(r) for r in await db.fetch_all(query.limit(limit).offset(offset))]


# --- notification log --------------------------------------------------------------------


async def add_notification_log(
    db: Database, node_name: str, pid: int, message: str, now: datetime.datetime | None = None
) -> None:
    """Store the stderr of a notification that failed."""
    await db.execute(
        insert(t_log_notifications).values(
            node_name=node_name, log_notifications_pid=pid, log_notifications_message=message,
            log_notifications_timestamp=db_time(now),
        )
    )


async def list_notification_logs(
    db: Database, limit: int = 100, offset: int = 0, node_name: str | None = None
) -> list[NotificationLogRow]:
    """Failed notification runs, newest first."""
    c = t_log_notifications.c
    query = select(t_log_notifications).order_by(
        c.log_notifications_timestamp.desc(), c.log_notifications_id.desc()
    )
    if node_name is not None:
        query = query.where(c.node_name == node_name)
    return [
        NotificationLogRow(
            id=r.log_notifications_id, node_name=r.node_name, pid=r.log_notifications_pid,
            message=r.log_notifications_message, timestamp=r.log_notifications_timestamp,
        )
        for r in await db.fetch_all(query.limit(limit).offset(offset))
    ]
