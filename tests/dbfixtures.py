"""pytest plugin: a clean database per test, on the backend chosen by ``EVQUEUE_TEST_DB``.

``EVQUEUE_TEST_DB`` is ``sqlite`` (default: a file in the test's ``tmp_path``),
``postgresql`` (a uniquely named database on 127.0.0.1:5432, user ``postgres``, created from
the admin database ``test`` and dropped afterwards) or ``mariadb`` (the same on
127.0.0.1:3306, user ``root`` without password).

Fixtures:

* ``backend_name``: the backend in use.
* ``db_url``: the SQLAlchemy URL of a fresh, empty database.
* ``db``: an opened ``Database`` with the schema created and seeded and no other rows, ids
  starting at 1 as in a new database (one database per session, emptied before each test;
  a second engine on it is ``await Database.open(db.url)``).

Module-scoped fixtures (a read-only data set shared by a module's tests) build on
``selected_backend()``, ``fresh_database_url()`` and ``open_database()``.

Tests that must pass on every backend carry ``@pytest.mark.backends``; CI runs them once per
value of ``EVQUEUE_TEST_DB``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import aiomysql
import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.schema import create_schema, seed
from evqueue.storage.tables import metadata

__all__ = [
    "BACKENDS",
    "backend_name",
    "db",
    "db_url",
    "fresh_database_url",
    "open_database",
    "selected_backend",
]

BACKENDS = ("sqlite", "postgresql", "mariadb")

PG_HOST, PG_PORT, PG_USER, PG_ADMIN_DB = "127.0.0.1", 5432, "postgres", "test"
MARIADB_HOST, MARIADB_PORT, MARIADB_USER = "127.0.0.1", 3306, "root"


def selected_backend() -> str:
    """The backend named by ``EVQUEUE_TEST_DB`` (default ``sqlite``)."""
    name = os.environ.get("EVQUEUE_TEST_DB", "") or "sqlite"
    if name not in BACKENDS:
        raise pytest.UsageError(f"EVQUEUE_TEST_DB={name!r}: expected one of {BACKENDS}")
    return name


@pytest.fixture
def backend_name() -> str:
    """The database backend under test (env ``EVQUEUE_TEST_DB``, default ``sqlite``)."""
    return selected_backend()


@contextlib.asynccontextmanager
async def _postgresql_database() -> AsyncIterator[str]:
    name = f"evq_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def _mariadb_database() -> AsyncIterator[str]:
    name = f"evq_test_{uuid.uuid4().hex[:16]}"
    admin = await aiomysql.connect(
        host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER, autocommit=True
    )
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        try:
            yield f"mariadb://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{name}"
        finally:
            async with admin.cursor() as cursor:
                await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@contextlib.asynccontextmanager
async def fresh_database_url(backend: str, directory: str) -> AsyncIterator[str]:
    """A new empty database on ``backend`` (SQLite: a file in ``directory``), dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{os.path.join(directory, 'evqueue.db')}"
    elif backend == "postgresql":
        async with _postgresql_database() as url:
            yield url
    else:
        async with _mariadb_database() as url:
            yield url


@contextlib.asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Database]:
    """An opened ``Database`` on ``url`` with the schema created, closed after."""
    database = await Database.open(url)
    try:
        await create_schema(database)
        yield database
    finally:
        await database.close()


@pytest.fixture
async def db_url(backend_name: str, tmp_path: os.PathLike[str]) -> AsyncIterator[str]:
    """The URL of a fresh, empty database on the backend under test."""
    async with fresh_database_url(backend_name, str(tmp_path)) as url:
        yield url


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _session_db_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """One database per test session with the schema created; ``db`` empties it per test."""
    directory = str(tmp_path_factory.mktemp("session-db"))
    async with fresh_database_url(selected_backend(), directory) as url:
        async with open_database(url):
            pass
        yield url


async def _empty_tables(conn: AsyncConnection) -> None:
    """Delete every row and restart the id sequences that moved, as in a new database."""
    for table in reversed(metadata.sorted_tables):
        await conn.execute(table.delete())
    dialect = conn.dialect.name
    if dialect == "sqlite":
        await conn.execute(text("DELETE FROM sqlite_sequence"))
    elif dialect == "postgresql":
        used = await conn.execute(text(
            "SELECT schemaname || '.' || sequencename FROM pg_sequences"
            " WHERE last_value IS NOT NULL"
        ))
        for (sequence,) in used.all():
            await conn.execute(text("SELECT setval(:s, 1, false)"), {"s": sequence})
    else:
        moved = await conn.execute(text(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = DATABASE() AND auto_increment > 1"
        ))
        for (name,) in moved.all():
            await conn.execute(text(f"ALTER TABLE `{name}` AUTO_INCREMENT = 1"))


async def _reset(database: Database) -> None:
    """Empty the database, then record the schema version and seed as a new database."""
    await database.write(_empty_tables)
    await create_schema(database)

    async def seed_all(conn: AsyncConnection) -> None:
        await seed(conn, metadata.tables)

    await database.write(seed_all)


@pytest.fixture
async def db(_session_db_url: str) -> AsyncIterator[Database]:
    """An opened database with the schema created and seeded, and no other rows.

    The database is shared by the session's tests and emptied before each one (creating a
    database and its schema per test costs seconds on a busy server). Tests that need a
    database of their own, or no schema, use ``db_url``. A second engine on the same
    database is ``await Database.open(db.url)``.
    """
    database = await Database.open(_session_db_url)
    try:
        await _reset(database)
        yield database
    finally:
        await database.close()
