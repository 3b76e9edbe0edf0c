"""Retry schedules (``t_schedule``): a unique name and the ``<schedule>`` XML.

Rules: names are unique (``DuplicateName``). The XML is stored as given; parsing and
validation belong to the model layer. Update and delete return whether the row existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row

from evqueue.storage.database import Database
from evqueue.storage.tables import t_schedule

__all__ = [
    "RetryScheduleRow",
    "create_retry_schedule",
    "delete_retry_schedule",
    "get_retry_schedule",
    "get_retry_schedule_by_name",
    "list_retry_schedules",
    "update_retry_schedule",
]


@dataclass(frozen=True, slots=True)
class RetryScheduleRow:
    """One retry schedule."""

    id: int
    name: str
    xml: str


def _row(row: Row[Any]) -> RetryScheduleRow:
    return RetryScheduleRow(id=row.schedule_id, name=row.schedule_name, xml=row.schedule_xml)


async def list_retry_schedules(db: Database) -> list[RetryScheduleRow]:
    """Every retry schedule, by name."""
    rows = await db.fetch_all(select(t_schedule).order_by(t_schedule.c.schedule_name))
    return [_row(r) for r in rows]


async def get_retry_schedule(db: Database, schedule_id: int) -> RetryScheduleRow | None:
    """The retry schedule with this id, or None."""
    row = await db.fetch_one(select(t_schedule).where(t_schedule.c.schedule_id == schedule_id))
    return _row(row) if row else None


async def get_retry_schedule_by_name(db: Database, name: str) -> RetryScheduleRow | None:
    """The retry schedule with this name, or None."""
    row = await db.fetch_one(select(t_schedule).where(t_schedule.c.schedule_name == name))
    return _row(row) if row else None


async def create_retry_schedule(db: Database, name: str, xml: str) -> int:
    """Create a retry schedule; returns its id.

    Raises:
        DuplicateName: A retry schedule with this name exists.
    """
    return await db.insert(insert(t_schedule).values(schedule_name=name, schedule_xml=xml))


async def update_retry_schedule(db: Database, schedule_id: int, name: str, xml: str) -> bool:
    """Change a retry schedule; returns False if it does not exist.

    Raises:
        DuplicateName: Another retry schedule has this name.
    """
    stmt = (
        update(t_schedule)
        .where(t_schedule.c.schedule_id == schedule_id)
        .values(schedule_name=name, schedule_xml=xml)
    )
    return await db.execute(stmt) > 0


async def delete_retry_schedule(db: Database, schedule_id: int) -> bool:
    """Delete a retry schedule; returns False if it did not exist."""
    return await db.execute(delete(t_schedule).where(t_schedule.c.schedule_id == schedule_id)) > 0
