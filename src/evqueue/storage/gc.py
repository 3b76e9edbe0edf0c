"""Garbage collection: delete old history in bounded batches (semantics.md §5.10).

Rules: each purge deletes at most ``limit`` rows older than (or as old as) ``before``, in one
transaction, and returns how many it deleted, so the collector repeats while the result is
non-zero. The ids are selected first and then deleted by id, since MariaDB refuses LIMIT in
a subquery. Purging an instance also purges its parameters, custom attributes, datastore
entries and tags. Only TERMINATED instances are purged, by end date.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.instances import delete_instance_dependents
from evqueue.storage.tables import (
    t_log,
    t_log_api,
    t_log_notifications,
    t_schedule_fire,
    t_uniqueaction,
    t_workflow_instance,
)
from evqueue.storage.timeutil import db_time

__all__ = [
    "purge_api_logs",
    "purge_instances",
    "purge_logs",
    "purge_notification_logs",
    "purge_schedule_fires",
    "purge_unique_actions",
]


async def _purge(
    db: Database, table: Table, id_column: Any, condition: Any, limit: int,
    dependents: bool = False,
) -> int:
    async def work(conn: AsyncConnection) -> int:
        query = select(id_column).where(condition).order_by(id_column).limit(limit)
        ids = list((await conn.execute(query)).scalars().all())
        if not ids:
            return 0
        await conn.execute(delete(table).where(id_column.in_(ids)))
        if dependents:
            await delete_instance_dependents(conn, ids)
        return len(ids)

    return await db.write(work)


async def purge_instances(db: Database, before: datetime.datetime, limit: int) -> int:
    """Delete up to ``limit`` TERMINATED instances that ended at or before ``before``."""
    c = t_workflow_instance.c
    condition = (c.workflow_instance_status == "TERMINATED") & (
        c.workflow_instance_end <= db_time(before)
    )
    return await _purge(db, t_workflow_instance, c.workflow_instance_id, condition, limit, True)


async def purge_logs(db: Database, before: datetime.datetime, limit: int) -> int:
    """Delete up to ``limit`` engine log lines logged at or before ``before``."""
    c = t_log.c
    return await _purge(db, t_log, c.log_id, c.log_timestamp <= db_time(before), limit)


async def purge_api_logs(db: Database, before: datetime.datetime, limit: int) -> int:
    """Delete up to ``limit`` API audit lines logged at or before ``before``."""
    c = t_log_api.c
    return await _purge(db, t_log_api, c.log_api_id, c.log_api_timestamp <= db_time(before), limit)


async def purge_notification_logs(db: Database, before: datetime.datetime, limit: int) -> int:
    """Delete up to ``limit`` notification log lines logged at or before ``before``."""
    c = t_log_notifications.c
    condition = c.log_notifications_timestamp <= db_time(before)
    return await _purge(db, t_log_notifications, c.log_notifications_id, condition, limit)


async def purge_unique_actions(db: Database, before: datetime.datetime, limit: int) -> int:
    """Delete up to ``limit`` election rows made at or before ``before``."""
    c = t_uniqueaction.c
    condition = c.uniqueaction_time <= db_time(before)
    return await _purge(db, t_uniqueaction, c.uniqueaction_id, condition, limit)


async def purge_schedule_fires(db: Database, before: datetime.datetime) -> int:
    """Delete the schedule-fire claims due at or before ``before`` (one row per fire)."""
    return await db.execute(
        delete(t_schedule_fire).where(t_schedule_fire.c.due_time <= db_time(before))
    )
