"""Tag labels (``t_tag``); tagging instances is in ``evqueue.storage.instances``.

Rules: labels are unique. ``create_tag`` returns the id of an existing tag with the same
label instead of failing, as evQueue does (also when two engines create it at once);
``update_tag`` onto another tag's label raises ``DuplicateName``. Deleting a tag removes it
from every instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import t_tag, t_workflow_instance_tag

__all__ = [
    "TagRow",
    "create_tag",
    "delete_tag",
    "ensure_tag",
    "get_tag",
    "get_tag_by_label",
    "list_tags",
    "tag_id_for_label",
    "update_tag",
]


@dataclass(frozen=True, slots=True)
class TagRow:
    """One tag."""

    id: int
    label: str


def _row(row: Row[Any]) -> TagRow:
    return TagRow(id=row.tag_id, label=row.tag_label)


async def list_tags(db: Database) -> list[TagRow]:
    """Every tag, by label."""
    return [_row(r) for r in await db.fetch_all(select(t_tag).order_by(t_tag.c.tag_label))]


async def get_tag(db: Database, tag_id: int) -> TagRow | None:
    """The tag with this id, or None."""
    row = await db.fetch_one(select(t_tag).where(t_tag.c.tag_id == tag_id))
    return _row(row) if row else None


async def get_tag_by_label(db: Database, label: str) -> TagRow | None:
    """The tag with this label, or None."""
    row = await db.fetch_one(select(t_tag).where(t_tag.c.tag_label == label))
    return _row(row) if row else None


async def ensure_tag(conn: AsyncConnection, label: str) -> tuple[int, bool]:
    """Inside a write transaction: the id of the tag ``label``, created if missing, and
    whether this call created it.

    Uses a nested transaction (SAVEPOINT) for the insert, so a concurrent creation of the
    same label by another engine does not abort the caller's transaction.
    """
    query = select(t_tag.c.tag_id).where(t_tag.c.tag_label == label)
    existing = (await conn.execute(query)).scalar()
    if existing is not None:
        return int(existing), False
    try:
        async with conn.begin_nested():
            result = await conn.execute(insert(t_tag).values(tag_label=label))
        return int(result.inserted_primary_key[0]), True
    except IntegrityError:  # a concurrent insert won: use its row
        found = (await conn.execute(query)).scalar()
        if found is None:
            raise
        return int(found), False


async def tag_id_for_label(conn: AsyncConnection, label: str) -> int:
    """Inside a write transaction: the id of the tag ``label``, created if missing."""
    return (await ensure_tag(conn, label))[0]


async def create_tag(db: Database, label: str) -> int:
    """Create a tag; returns its id, or the id of the tag that already has this label."""

    async def work(conn: AsyncConnection) -> int:
        return await tag_id_for_label(conn, label)

    return await db.write(work)


async def update_tag(db: Database, tag_id: int, label: str) -> bool:
    """Rename a tag; returns False if it does not exist.

    Raises:
        DuplicateName: Another tag has this label.
    """
    stmt = update(t_tag).where(t_tag.c.tag_id == tag_id).values(tag_label=label)
    return await db.execute(stmt) > 0


async def delete_tag(db: Database, tag_id: int) -> bool:
    """Delete a tag and untag every instance; returns False if it did not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(delete(t_tag).where(t_tag.c.tag_id == tag_id))
        await conn.execute(
            delete(t_workflow_instance_tag).where(t_workflow_instance_tag.c.tag_id == tag_id)
        )
        return bool(result.rowcount)

    return await db.write(work)
