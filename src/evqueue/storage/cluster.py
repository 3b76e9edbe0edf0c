"""Cluster coordination through the shared database.

* The node registry (``t_node``, ours): each node upserts its row at start-up, refreshes
  ``heartbeat`` periodically, and lists the nodes whose heartbeat is recent enough; a node
  is alive for the whole cluster while its heartbeat is at most :data:`NODE_MAX_AGE` seconds
  old.
* Elections (``t_uniqueaction``, evQueue's): ``try_unique_action(name, node, now, period)``
  elects exactly one caller per name and period, however many engines try at once. A row
  newer than ``period`` seconds (any row when ``period <= 0``) means someone already won.
  Check and insert run in one transaction under the cluster-wide lock of that name, so two
  concurrent tries cannot both see "no winner" (evQueue's insert-then-compare could).
* Schedule fires (``t_schedule_fire``, ours): ``claim_schedule_fire`` succeeds for exactly
  one node per (schedule, due time), enforced by the table's primary key.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.tables import t_node, t_schedule_fire, t_uniqueaction, t_workflow_instance
from evqueue.storage.timeutil import db_time

__all__ = [
    "NODE_MAX_AGE",
    "NodeRow",
    "claim_schedule_fire",
    "heartbeat",
    "list_nodes",
    "register_node",
    "schedule_fire_instance",
    "scheduled_instance_since",
    "set_schedule_fire_instance",
    "try_unique_action",
    "unrecorded_fires",
    "unregister_node",
]

#: Seconds after its last heartbeat during which a node still counts as alive (the registry
#: refreshes heartbeats well within it; ``cluster list`` shows the nodes within it).
NODE_MAX_AGE = 15.0


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A registered node."""

    name: str
    api_url: str
    ws_url: str
    version: str
    started_at: datetime.datetime
    heartbeat: datetime.datetime


# --- node registry -----------------------------------------------------------------------


async def register_node(
    db: Database, name: str, api_url: str, ws_url: str, version: str,
    now: datetime.datetime | None = None,
) -> None:
    """Insert or refresh this node's row (start time and heartbeat = ``now``)."""
    when = db_time(now)
    values = {"api_url": api_url, "ws_url": ws_url, "version": version,
              "started_at": when, "heartbeat": when}

    async def work(conn: AsyncConnection) -> None:
        result = await conn.execute(update(t_node).where(t_node.c.node_name == name).values(values))
        if not result.rowcount:
            await conn.execute(insert(t_node).values(node_name=name, **values))

    await db.write(work)


async def heartbeat(db: Database, name: str, now: datetime.datetime | None = None) -> bool:
    """Refresh a node's heartbeat; returns False if the node is not registered."""
    stmt = update(t_node).where(t_node.c.node_name == name).values(heartbeat=db_time(now))
    return await db.execute(stmt) > 0


async def unregister_node(db: Database, name: str) -> bool:
    """Remove a node from the registry (clean shutdown)."""
    return await db.execute(delete(t_node).where(t_node.c.node_name == name)) > 0


async def list_nodes(
    db: Database, now: datetime.datetime | None = None, max_age: float | None = None
) -> list[NodeRow]:
    """Registered nodes by name; with ``max_age``, only those whose heartbeat is at most
    ``max_age`` seconds older than ``now``."""
    query = select(t_node).order_by(t_node.c.node_name)
    if max_age is not None:
        oldest = db_time(now) - datetime.timedelta(seconds=max_age)
        query = query.where(t_node.c.heartbeat >= oldest)
    return [
        NodeRow(r.node_name, r.api_url, r.ws_url, r.version, r.started_at, r.heartbeat)
        for r in await db.fetch_all(query)
    ]


# --- elections ---------------------------------------------------------------------------


async def try_unique_action(
    db: Database, name: str, node_name: str, now: datetime.datetime | None = None,
    period: float = 0,
) -> bool:
    """Try to be the one node that performs action ``name`` for this period.

    Args:
        db: The database.
        name: The action, e.g. ``gc`` or ``scheduledwf_12_2024-01-10 10:00:00``.
        node_name: The node trying.
        now: The time of the try (default: now).
        period: Seconds a win blocks other tries; ``<= 0`` blocks them for ever.

    Returns:
        True for exactly one of any set of concurrent tries within a period.
    """
    when = db_time(now)
    ua = t_uniqueaction.c

    async def work(conn: AsyncConnection) -> bool:
        query = select(ua.uniqueaction_id).where(ua.uniqueaction_name == name).limit(1)
        if period > 0:
            query = query.where(ua.uniqueaction_time > when - datetime.timedelta(seconds=period))
        if (await conn.execute(query)).first() is not None:
            return False
        await conn.execute(
            insert(t_uniqueaction).values(
                node_name=node_name, uniqueaction_name=name, uniqueaction_time=when
            )
        )
        return True

    async with db.exclusive(f"uniqueaction:{name}"):
        return await db.write(work)


# --- schedule fires ----------------------------------------------------------------------


def _fire_key(schedule_id: int, due_time: datetime.datetime) -> list[Any]:
    c = t_schedule_fire.c
    return [c.workflow_schedule_id == schedule_id, c.due_time == db_time(due_time)]


async def claim_schedule_fire(
    db: Database, schedule_id: int, due_time: datetime.datetime, node_name: str
) -> bool:
    """Claim the run of a schedule due at ``due_time``; False if another node has it."""
    try:
        await db.execute(
            insert(t_schedule_fire).values(
                workflow_schedule_id=schedule_id, due_time=db_time(due_time), node_name=node_name
            )
        )
    except DuplicateName:
        return False
    return True


async def set_schedule_fire_instance(
    db: Database, schedule_id: int, due_time: datetime.datetime, instance_id: int
) -> bool:
    """Record the instance a claimed fire launched."""
    stmt = (
        update(t_schedule_fire)
        .where(*_fire_key(schedule_id, due_time))
        .values(workflow_instance_id=instance_id)
    )
    return await db.execute(stmt) > 0


async def schedule_fire_instance(
    db: Database, schedule_id: int, due_time: datetime.datetime
) -> tuple[str, int | None] | None:
    """Who claimed a fire: (node name, instance id or None), or None if unclaimed."""
    c = t_schedule_fire.c
    row = await db.fetch_one(
        select(c.node_name, c.workflow_instance_id).where(*_fire_key(schedule_id, due_time))
    )
    return (row.node_name, row.workflow_instance_id) if row else None


async def unrecorded_fires(
    db: Database, node_name: str, since: datetime.datetime
) -> list[tuple[int, datetime.datetime]]:
    """(schedule id, due time) of the fires ``node_name`` claimed since ``since`` without
    recording an instance: the node stopped between the claim and the record."""
    c = t_schedule_fire.c
    rows = await db.fetch_all(
        select(c.workflow_schedule_id, c.due_time)
        .where(c.node_name == node_name, c.workflow_instance_id.is_(None),
               c.due_time >= db_time(since))
        .order_by(c.due_time)
    )
    return [(row.workflow_schedule_id, row.due_time) for row in rows]


async def scheduled_instance_since(
    db: Database, schedule_id: int, node_name: str, due_time: datetime.datetime
) -> int | None:
    """The first instance of schedule ``schedule_id`` launched on ``node_name`` at or after
    ``due_time`` that no fire records: the one an unrecorded claim launched, if any."""
    wi, fire = t_workflow_instance.c, t_schedule_fire.c
    recorded = select(fire.workflow_instance_id).where(
        fire.workflow_schedule_id == schedule_id, fire.workflow_instance_id.is_not(None))
    return await db.scalar(
        select(wi.workflow_instance_id)
        .where(wi.workflow_schedule_id == schedule_id, wi.node_name == node_name,
               wi.workflow_instance_start >= db_time(due_time),
               wi.workflow_instance_id.not_in(recorded))
        .order_by(wi.workflow_instance_id)
        .limit(1)
    )
