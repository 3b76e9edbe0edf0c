"""Workflow definitions (``t_workflow``).

Rules:

* Names are unique (``DuplicateName``); the XML is stored as given (validation is the model
  layer's job).
* A new workflow is subscribed, in the same transaction, to every notification marked
  ``subscribe_all``, as evQueue does.
* Deleting a workflow also deletes its notification subscriptions, its workflow schedules
  (with their parameters) and the user rights on it. Its instances stay (history).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import (
    t_notification,
    t_user_right,
    t_workflow,
    t_workflow_notification,
    t_workflow_schedule,
    t_workflow_schedule_parameters,
)

__all__ = [
    "WorkflowRow",
    "create_workflow",
    "delete_workflow",
    "get_workflow",
    "get_workflow_by_name",
    "list_workflows",
    "set_workflow_lastcommit",
    "update_workflow",
]


@dataclass(frozen=True, slots=True)
class WorkflowRow:
    """One workflow definition."""

    id: int
    name: str
    xml: str
    group: str
    comment: str
    lastcommit: str | None


def _row(row: Row[Any]) -> WorkflowRow:
    return WorkflowRow(
        id=row.workflow_id, name=row.workflow_name, xml=row.workflow_xml,
        group=row.workflow_group, comment=row.workflow_comment,
        lastcommit=row.workflow_lastcommit,
    )


async def list_workflows(db: Database) -> list[WorkflowRow]:
    """Every workflow, by name."""
    rows = await db.fetch_all(select(t_workflow).order_by(t_workflow.c.workflow_name))
    return [_row(r) for r in rows]


async def get_workflow(db: Database, workflow_id: int) -> WorkflowRow | None:
    """The workflow with this id, or None."""
    row = await db.fetch_one(select(t_workflow).where(t_workflow.c.workflow_id == workflow_id))
    return _row(row) if row else None


async def get_workflow_by_name(db: Database, name: str) -> WorkflowRow | None:
    """The workflow with this name, or None."""
    row = await db.fetch_one(select(t_workflow).where(t_workflow.c.workflow_name == name))
    return _row(row) if row else None


async def create_workflow(
    db: Database,
    name: str,
    xml: str,
    group: str = "",
    comment: str = "",
    lastcommit: str | None = None,
) -> int:
    """Create a workflow and subscribe it to the ``subscribe_all`` notifications.

    Returns:
        The new workflow id.

    Raises:
        DuplicateName: A workflow with this name exists.
    """

    async def work(conn: AsyncConnection) -> int:
        result = await conn.execute(
            insert(t_workflow).values(
                workflow_name=name, workflow_xml=xml, workflow_group=group,
                workflow_comment=comment, workflow_lastcommit=lastcommit,
            )
        )
        workflow_id = int(result.inserted_primary_key[0])
        ids = (
            await conn.execute(
                select(t_notification.c.notification_id).where(
                    t_notification.c.notification_subscribe_all == 1
                )
            )
        ).scalars().all()
        if ids:
            await conn.execute(
                insert(t_workflow_notification),
                [{"workflow_id": workflow_id, "notification_id": nid} for nid in ids],
            )
        return workflow_id

    return await db.write(work)


async def update_workflow(
    db: Database, workflow_id: int, name: str, xml: str, group: str = "", comment: str = ""
) -> bool:
    """Change a workflow; returns False if it does not exist.

    Raises:
        DuplicateName: Another workflow has this name.
    """
    stmt = (
        update(t_workflow)
        .where(t_workflow.c.workflow_id == workflow_id)
        .values(workflow_name=name, workflow_xml=xml, workflow_group=group,
                workflow_comment=comment)
    )
    return await db.execute(stmt) > 0


async def set_workflow_lastcommit(db: Database, workflow_id: int, commit: str | None) -> bool:
    """Record the git commit a workflow was saved to or loaded from (None clears it)."""
    stmt = (
        update(t_workflow)
        .where(t_workflow.c.workflow_id == workflow_id)
        .values(workflow_lastcommit=commit)
    )
    return await db.execute(stmt) > 0


async def delete_workflow(db: Database, workflow_id: int) -> bool:
    """Delete a workflow with its subscriptions, schedules and rights.

    Returns:
        False if the workflow did not exist.
    """

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            delete(t_workflow).where(t_workflow.c.workflow_id == workflow_id)
        )
        await conn.execute(
            delete(t_workflow_notification).where(
                t_workflow_notification.c.workflow_id == workflow_id
            )
        )
        schedules = select(t_workflow_schedule.c.workflow_schedule_id).where(
            t_workflow_schedule.c.workflow_id == workflow_id
        )
        schedule_ids = (await conn.execute(schedules)).scalars().all()
        if schedule_ids:
            await conn.execute(
                delete(t_workflow_schedule_parameters).where(
                    t_workflow_schedule_parameters.c.workflow_schedule_id.in_(schedule_ids)
                )
            )
            await conn.execute(
                delete(t_workflow_schedule).where(
                    t_workflow_schedule.c.workflow_schedule_id.in_(schedule_ids)
                )
            )
        await conn.execute(delete(t_user_right).where(t_user_right.c.workflow_id == workflow_id))
        return bool(result.rowcount)

    return await db.write(work)
