"""Queue definitions (``t_queue``).

Rules: queue names are unique and case-sensitive; creating or renaming onto an existing name
raises ``DuplicateName``. Update and delete return whether the queue existed. Validation of
names, concurrency and scheduler values belongs to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row

from evqueue.storage.database import Database
from evqueue.storage.tables import t_queue

__all__ = [
    "QueueRow",
    "create_queue",
    "delete_queue",
    "get_queue",
    "get_queue_by_name",
    "list_queues",
    "update_queue",
]


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue definition."""

    id: int
    name: str
    concurrency: int
    scheduler: str
    dynamic: bool


def _row(row: Row[Any]) -> QueueRow:
    return QueueRow(
        id=row.queue_id, name=row.queue_name, concurrency=row.queue_concurrency,
        scheduler=row.queue_scheduler, dynamic=bool(row.queue_dynamic),
    )


async def list_queues(db: Database) -> list[QueueRow]:
    """Every queue, by name."""
    return [_row(r) for r in await db.fetch_all(select(t_queue).order_by(t_queue.c.queue_name))]


async def get_queue(db: Database, queue_id: int) -> QueueRow | None:
    """The queue with this id, or None."""
    row = await db.fetch_one(select(t_queue).where(t_queue.c.queue_id == queue_id))
    return _row(row) if row else None


async def get_queue_by_name(db: Database, name: str) -> QueueRow | None:
    """The queue with this name, or None."""
    row = await db.fetch_one(select(t_queue).where(t_queue.c.queue_name == name))
    return _row(row) if row else None


async def create_queue(
    db: Database, name: str, concurrency: int, scheduler: str = "default", dynamic: bool = False
) -> int:
    """Create a queue; returns its id.

    Raises:
        DuplicateName: A queue with this name exists.
    """
    return await db.insert(
        insert(t_queue).values(
            queue_name=name, queue_concurrency=concurrency, queue_scheduler=scheduler,
            queue_dynamic=int(dynamic),
        )
    )


async def update_queue(
    db: Database, queue_id: int, name: str, concurrency: int, scheduler: str, dynamic: bool
) -> bool:
    """Change a queue; returns False if it does not exist.

    Raises:
        DuplicateName: Another queue has this name.
    """
    stmt = (
        update(t_queue)
        .where(t_queue.c.queue_id == queue_id)
        .values(
            queue_name=name, queue_concurrency=concurrency, queue_scheduler=scheduler,
            queue_dynamic=int(dynamic),
        )
    )
    return await db.execute(stmt) > 0


async def delete_queue(db: Database, queue_id: int) -> bool:
    """Delete a queue; returns False if it did not exist."""
    return await db.execute(delete(t_queue).where(t_queue.c.queue_id == queue_id)) > 0
