"""Workflow schedules (``t_workflow_schedule``) and their parameters.

Rules:

* A schedule is written from a ``WorkflowScheduleSpec``; its parameters are replaced as a
  whole on update, in the same transaction as the row.
* Rows read back carry the workflow's name and group (None when the workflow is gone).
* ``node_name`` is a node name, ``all`` (every node runs it) or ``any`` (one elected node).
* ``schedules_for_node`` is the scheduler's start-up query: active schedules for this node,
  ``all`` or ``any``, each with the id of its instance still EXECUTING on this node, if any.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from evqueue.storage.database import Database
from evqueue.storage.tables import (
    t_workflow,
    t_workflow_instance,
    t_workflow_schedule,
    t_workflow_schedule_parameters,
)

__all__ = [
    "NodeSchedule",
    "WorkflowScheduleRow",
    "WorkflowScheduleSpec",
    "create_workflow_schedule",
    "delete_workflow_schedule",
    "get_workflow_schedule",
    "list_workflow_schedules",
    "schedules_for_node",
    "set_workflow_schedule_active",
    "update_workflow_schedule",
]

Parameters = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class WorkflowScheduleSpec:
    """What a caller writes: every column of a workflow schedule, plus its parameters."""

    workflow_id: int
    schedule: str
    node_name: str = "any"
    onfailure: str = "CONTINUE"
    user: str | None = None
    host: str | None = None
    active: bool = True
    comment: str = ""
    parameters: Parameters = ()


@dataclass(frozen=True, slots=True)
class WorkflowScheduleRow:
    """A stored workflow schedule."""

    id: int
    workflow_id: int
    schedule: str
    node_name: str
    onfailure: str
    user: str | None
    host: str | None
    active: bool
    comment: str
    parameters: Parameters
    workflow_name: str | None
    workflow_group: str | None


@dataclass(frozen=True, slots=True)
class NodeSchedule:
    """A schedule this node must run, and its instance still executing here (if any)."""

    schedule: WorkflowScheduleRow
    running_instance_id: int | None


_ws = t_workflow_schedule.c
_wsp = t_workflow_schedule_parameters.c


def _select() -> Select[Any]:
    return select(
        t_workflow_schedule, t_workflow.c.workflow_name, t_workflow.c.workflow_group
    ).outerjoin(t_workflow, t_workflow.c.workflow_id == _ws.workflow_id)


def _row(row: Row[Any], parameters: Parameters) -> WorkflowScheduleRow:
    return WorkflowScheduleRow(
        id=row.workflow_schedule_id, workflow_id=row.workflow_id,
        schedule=row.workflow_schedule, node_name=row.node_name,
        onfailure=row.workflow_schedule_onfailure, user=row.workflow_schedule_user,
        host=row.workflow_schedule_host, active=bool(row.workflow_schedule_active),
        comment=row.workflow_schedule_comment, parameters=parameters,
        workflow_name=row.workflow_name, workflow_group=row.workflow_group,
    )


async def _parameters(conn: AsyncConnection, ids: Iterable[int]) -> dict[int, Parameters]:
    ids = list(ids)
    if not ids:
        return {}
    rows = await conn.execute(
        select(t_workflow_schedule_parameters).where(_wsp.workflow_schedule_id.in_(ids))
    )
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for r in rows:
        found[r.workflow_schedule_id].append(
            (r.workflow_schedule_parameter, r.workflow_schedule_parameter_value)
        )
    return {key: tuple(value) for key, value in found.items()}


async def _read(db: Database, query: Select[Any]) -> list[tuple[Row[Any], Parameters]]:
    """Rows of ``query`` with their parameters, in one transaction."""

    async def work(conn: AsyncConnection) -> list[tuple[Row[Any], Parameters]]:
        rows = list((await conn.execute(query)).all())
        params = await _parameters(conn, (r.workflow_schedule_id for r in rows))
        return [(r, params.get(r.workflow_schedule_id, ())) for r in rows]

    return await db.read(work)


async def list_workflow_schedules(db: Database) -> list[WorkflowScheduleRow]:
    """Every workflow schedule, by id."""
    pairs = await _read(db, _select().order_by(_ws.workflow_schedule_id))
    return [_row(row, params) for row, params in pairs]


async def get_workflow_schedule(db: Database, schedule_id: int) -> WorkflowScheduleRow | None:
    """The workflow schedule with this id, or None."""
    pairs = await _read(db, _select().where(_ws.workflow_schedule_id == schedule_id))
    return _row(*pairs[0]) if pairs else None


def _values(spec: WorkflowScheduleSpec) -> dict[str, Any]:
    return {
        "node_name": spec.node_name, "workflow_id": spec.workflow_id,
        "workflow_schedule": spec.schedule, "workflow_schedule_onfailure": spec.onfailure,
        "workflow_schedule_user": spec.user, "workflow_schedule_host": spec.host,
        "workflow_schedule_active": int(spec.active),
        "workflow_schedule_comment": spec.comment,
    }


async def _write_parameters(
    conn: AsyncConnection, schedule_id: int, parameters: Sequence[tuple[str, str]]
) -> None:
    await conn.execute(
        delete(t_workflow_schedule_parameters).where(_wsp.workflow_schedule_id == schedule_id)
    )
    if parameters:
        await conn.execute(
            insert(t_workflow_schedule_parameters),
            [
                {"workflow_schedule_id": schedule_id, "workflow_schedule_parameter": name,
                 "workflow_schedule_parameter_value": value}
                for name, value in parameters
            ],
        )


async def create_workflow_schedule(db: Database, spec: WorkflowScheduleSpec) -> int:
    """Create a workflow schedule with its parameters; returns its id."""

    async def work(conn: AsyncConnection) -> int:
        result = await conn.execute(insert(t_workflow_schedule).values(_values(spec)))
        schedule_id = int(result.inserted_primary_key[0])
        await _write_parameters(conn, schedule_id, spec.parameters)
        return schedule_id

    return await db.write(work)


async def update_workflow_schedule(
    db: Database, schedule_id: int, spec: WorkflowScheduleSpec
) -> bool:
    """Replace a workflow schedule and its parameters; returns False if it does not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            update(t_workflow_schedule)
            .where(_ws.workflow_schedule_id == schedule_id)
            .values(_values(spec))
        )
        if not result.rowcount:
            return False
        await _write_parameters(conn, schedule_id, spec.parameters)
        return True

    return await db.write(work)


async def set_workflow_schedule_active(db: Database, schedule_id: int, active: bool) -> bool:
    """Lock (False) or unlock (True) a schedule; returns False if it does not exist."""
    stmt = (
        update(t_workflow_schedule)
        .where(_ws.workflow_schedule_id == schedule_id)
        .values(workflow_schedule_active=int(active))
    )
    return await db.execute(stmt) > 0


async def delete_workflow_schedule(db: Database, schedule_id: int) -> bool:
    """Delete a schedule and its parameters; returns False if it did not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            delete(t_workflow_schedule).where(_ws.workflow_schedule_id == schedule_id)
        )
        await conn.execute(
            delete(t_workflow_schedule_parameters).where(_wsp.workflow_schedule_id == schedule_id)
        )
        return bool(result.rowcount)

    return await db.write(work)


async def schedules_for_node(db: Database, node_name: str) -> list[NodeSchedule]:
    """Active schedules for ``node_name``, ``all`` or ``any``, with their running instance."""
    wi = t_workflow_instance.c
    running = and_(
        wi.workflow_schedule_id == _ws.workflow_schedule_id,
        wi.workflow_instance_status == "EXECUTING",
        wi.node_name == node_name,
    )
    query = (
        _select()
        .add_columns(wi.workflow_instance_id)
        .outerjoin(t_workflow_instance, running)
        .where(_ws.node_name.in_([node_name, "all", "any"]), _ws.workflow_schedule_active == 1)
        .order_by(_ws.workflow_schedule_id)
    )
    pairs = await _read(db, query)
    return [NodeSchedule(_row(row, params), row.workflow_instance_id) for row, params in pairs]
