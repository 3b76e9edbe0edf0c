"""Schema creation, version bookkeeping and seeding.

Rules:

* ``create_schema`` creates the tables that are missing and leaves existing ones untouched,
  so it both initialises a new database and adopts an existing evQueue 3.3 database (which
  then only gains our own tables).
* A table created by this call is seeded as evQueue seeds it: ``t_queue`` gets the queue
  ``default`` (concurrency 1, scheduler ``default``) and ``t_user`` the user ``admin`` with
  password SHA1('admin') and profile ADMIN.
* ``t_evqueue_schema`` holds one row, the schema version. A database newer than this code
  is refused; an older one is brought up to date by the steps in ``_UPGRADES`` (version n to
  n+1), all inside the same locked section.
* Several engines may start at once on one database: the whole procedure runs under the
  cluster-wide lock ``evqueue-schema``.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import func, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import DEFAULT_ADMIN_PASSWORD_SHA1, Database
from evqueue.storage.errors import SchemaError
from evqueue.storage.tables import (
    SCHEMA_VERSION,
    metadata,
    t_evqueue_schema,
    t_queue,
    t_user,
)

__all__ = ["create_schema", "schema_version", "seed"]

Upgrade = Callable[[AsyncConnection], Awaitable[None]]


async def _add_history_indexes(conn: AsyncConnection) -> None:
    """Version 1 → 2: the indexes that let the instance history page without sorting."""
    table = metadata.tables["t_workflow_instance"]
    wanted = ["ix_t_workflow_instance_workflow"]
    if conn.dialect.name == "postgresql":
        wanted.append("ix_t_workflow_instance_history")

    def create(sync: Any) -> None:
        existing = {index["name"] for index in inspect(sync).get_indexes(table.name)}
        for index in table.indexes:
            if index.name in wanted and index.name not in existing:
                index.create(sync)

    await conn.run_sync(create)


#: Steps from version n to n+1, keyed by n.
_UPGRADES: dict[int, Upgrade] = {1: _add_history_indexes}


async def _table_names(conn: AsyncConnection) -> set[str]:
    return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


async def _is_empty(conn: AsyncConnection, table_name: str) -> bool:
    table = metadata.tables[table_name]
    return not (await conn.execute(select(func.count()).select_from(table))).scalar()


async def seed(conn: AsyncConnection, tables: Iterable[str]) -> None:
    """Inside a write transaction: insert evQueue's initial rows into those of ``tables``
    that are empty (``t_queue``: the queue ``default``; ``t_user``: the user ``admin``)."""
    new_tables = set(tables)
    if "t_queue" in new_tables and await _is_empty(conn, "t_queue"):
        await conn.execute(
            insert(t_queue).values(
                queue_name="default", queue_concurrency=1, queue_scheduler="default",
                queue_dynamic=0,
            )
        )
    if "t_user" in new_tables and await _is_empty(conn, "t_user"):
        await conn.execute(
            insert(t_user).values(
                user_login="admin", user_password=DEFAULT_ADMIN_PASSWORD_SHA1,
                user_profile="ADMIN", user_preferences="", user_password_iterations=0,
            )
        )


async def _record_version(conn: AsyncConnection) -> None:
    now = datetime.datetime.now().replace(microsecond=0)
    version = (await conn.execute(select(t_evqueue_schema.c.schema_version))).scalar()
    if version is None:
        await conn.execute(
            insert(t_evqueue_schema).values(schema_version=SCHEMA_VERSION, schema_updated=now)
        )
        return
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"database schema version {version} is newer than this evqueue "
            f"(which knows version {SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        await _UPGRADES[version](conn)
        version += 1
    await conn.execute(
        update(t_evqueue_schema).values(schema_version=version, schema_updated=now)
    )


async def create_schema(db: Database) -> None:
    """Create missing tables, seed new ones, and record the schema version.

    Args:
        db: The database.

    Raises:
        SchemaError: The database schema is newer than this code.
    """
    async with db.exclusive("evqueue-schema"):
        existing = await db.read(_table_names)
        new_tables = set(metadata.tables) - existing

        async def work(conn: AsyncConnection) -> None:
            # Re-inspected on every try: a failed try may have created tables (MariaDB DDL
            # commits at once).
            missing = set(metadata.tables) - await _table_names(conn)
            if missing:
                tables = [metadata.tables[name] for name in sorted(missing)]
                await conn.run_sync(metadata.create_all, tables, False)
            await seed(conn, new_tables)
            await _record_version(conn)

        await db.write(work)


async def schema_version(db: Database) -> int | None:
    """The schema version recorded in the database, or None if there is none."""

    async def work(conn: AsyncConnection) -> int | None:
        if "t_evqueue_schema" not in await _table_names(conn):
            return None
        return (await conn.execute(select(t_evqueue_schema.c.schema_version))).scalar()

    return await db.read(work)
