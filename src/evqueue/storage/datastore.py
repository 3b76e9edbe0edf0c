"""The datastore (``t_datastore``): task outputs too large to keep in the instance XML.

Rules: an entry belongs to one instance and is referenced from the XML by its id
(``datastore-id``). Entries are deleted with their instance (``instances.delete_instance``
and the garbage collector), never on their own.
"""

from __future__ import annotations

from sqlalchemy import insert, select

from evqueue.storage.database import Database
from evqueue.storage.tables import t_datastore

__all__ = ["get_datastore", "store_datastore"]


async def store_datastore(db: Database, instance_id: int, value: str) -> int:
    """Store a large output of an instance; returns the entry's id."""
    return await db.insert(
        insert(t_datastore).values(workflow_instance_id=instance_id, datastore_value=value)
    )


async def get_datastore(db: Database, datastore_id: int) -> str | None:
    """The stored value, or None if there is no such entry."""
    query = select(t_datastore.c.datastore_value).where(
        t_datastore.c.datastore_id == datastore_id
    )
    value = await db.scalar(query)
    return str(value) if value is not None else None
