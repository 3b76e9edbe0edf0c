"""Schema creation: idempotent, seeded once, versioned, safe for engines starting together."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, inspect, text, update

from evqueue.storage.database import Database
from evqueue.storage.errors import SchemaError
from evqueue.storage.queues import list_queues
from evqueue.storage.schema import create_schema, schema_version
from evqueue.storage.tables import SCHEMA_VERSION, t_evqueue_schema, t_queue, t_user
from evqueue.storage.users import get_user_by_login, hash_password, list_users

pytestmark = pytest.mark.backends


async def test_new_database_is_seeded(db: Database) -> None:
    [queue] = await list_queues(db)
    assert (queue.name, queue.concurrency, queue.scheduler, queue.dynamic) == (
        "default", 1, "default", False,
    )
    [admin] = await list_users(db)
    assert (admin.login, admin.profile) == ("admin", "ADMIN")
    assert admin.password == hash_password("admin")
    assert await schema_version(db) == SCHEMA_VERSION


async def test_create_schema_twice_changes_nothing(db: Database) -> None:
    await create_schema(db)
    assert len(await list_queues(db)) == 1
    assert len(await list_users(db)) == 1


async def test_no_reseed_after_the_seed_rows_are_removed(db: Database) -> None:
    await db.execute(t_queue.delete())
    await create_schema(db)
    assert await list_queues(db) == []


async def test_engines_starting_together(db_url: str) -> None:
    databases = [await Database.open(db_url) for _ in range(4)]
    try:
        await asyncio.gather(*(create_schema(d) for d in databases))
        assert len(await list_queues(databases[0])) == 1
        assert len(await list_users(databases[0])) == 1
    finally:
        for d in databases:
            await d.close()


async def test_existing_evqueue_database_is_adopted(db_url: str) -> None:
    """Tables that already exist keep their rows and are not seeded again."""
    database = await Database.open(db_url)
    try:
        async with database.engine.begin() as conn:
            await conn.run_sync(t_queue.create)
            await conn.run_sync(t_user.create)
            await conn.execute(
                insert(t_queue).values(queue_name="nightly", queue_concurrency=4)
            )
        await create_schema(database)
        assert [q.name for q in await list_queues(database)] == ["nightly"]
        assert await get_user_by_login(database, "admin") is None
        assert await schema_version(database) == SCHEMA_VERSION
    finally:
        await database.close()


async def test_newer_schema_is_refused(db: Database) -> None:
    await db.execute(update(t_evqueue_schema).values(schema_version=SCHEMA_VERSION + 1))
    with pytest.raises(SchemaError):
        await create_schema(db)


async def test_schema_version_of_an_empty_database(db_url: str) -> None:
    database = await Database.open(db_url)
    try:
        assert await schema_version(database) is None
        await database.execute(text("SELECT 1"))
    finally:
        await database.close()


async def _instance_indexes(database: Database) -> set[str]:
    async with database.engine.connect() as conn:
        return {index["name"] for index in await conn.run_sync(
            lambda sync: inspect(sync).get_indexes("t_workflow_instance"))}


async def test_a_version_1_database_gains_the_history_indexes(db: Database,
                                                               backend_name: str) -> None:
    wanted = {"ix_t_workflow_instance_workflow"} | (
        {"ix_t_workflow_instance_history"} if backend_name == "postgresql" else set())
    assert wanted <= await _instance_indexes(db)
    async with db.engine.begin() as conn:
        for name in wanted:
            on = "" if backend_name == "postgresql" else (
                " ON t_workflow_instance" if db.is_mysql else "")
            await conn.execute(text(f"DROP INDEX {name}{on}"))
    await db.execute(update(t_evqueue_schema).values(schema_version=1))
    assert not wanted & await _instance_indexes(db)
    await create_schema(db)
    assert wanted <= await _instance_indexes(db)
    assert await schema_version(db) == SCHEMA_VERSION
