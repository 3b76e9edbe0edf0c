"""Statements run on SQLite's driver write what SQLAlchemy writes, and fail as it fails; on
the other backends they are SQLAlchemy's own calls."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import bindparam, insert, select, update

from evqueue.storage.database import Database
from evqueue.storage.driver_statements import DriverStatement
from evqueue.storage.errors import DuplicateName
from evqueue.storage.tables import t_workflow_instance

pytestmark = pytest.mark.backends

_wi = t_workflow_instance.c
START = datetime.datetime(2024, 5, 6, 7, 8, 9)
END = datetime.datetime(2024, 5, 6, 7, 9, 0)
ROW = {"node_name": "n1", "workflow_id": 3, "workflow_schedule_id": None,
       "workflow_instance_host": "h", "workflow_instance_start": START,
       "workflow_instance_end": None, "workflow_instance_status": "EXECUTING",
       "workflow_instance_errors": 0, "workflow_instance_comment": "c",
       "workflow_instance_savepoint": None}
END_ROW = (update(t_workflow_instance).where(_wi.workflow_instance_id == bindparam("b_id"))
           .values(workflow_instance_status="TERMINATED", workflow_instance_end=bindparam("b_end"),
                   workflow_instance_savepoint=bindparam("b_savepoint")))


async def stored(db: Database) -> list[tuple]:
    rows = await db.fetch_all(select(t_workflow_instance).order_by(_wi.workflow_instance_id))
    return [tuple(row)[1:] for row in rows]  # without the id


async def test_rows_read_back_as_those_sqlalchemy_writes(db: Database) -> None:
    driver_insert, driver_end = DriverStatement(insert(t_workflow_instance)), DriverStatement(
        END_ROW)

    async def by_driver(conn):  # type: ignore[no-untyped-def]
        new = await driver_insert.execute(conn, ROW)
        await driver_end.executemany(conn, [
            {"b_id": new, "b_end": END, "b_savepoint": "<workflow/>"}])
        return new

    async def by_sqlalchemy(conn):  # type: ignore[no-untyped-def]
        new = (await conn.execute(insert(t_workflow_instance), ROW)).inserted_primary_key[0]
        await conn.execute(END_ROW, [{"b_id": new, "b_end": END, "b_savepoint": "<workflow/>"}])
        return new

    first = await db.write(by_driver)
    second = await db.write(by_sqlalchemy)

    assert second == first + 1
    one, two = await stored(db)
    assert one == two
    assert one[4:7] == (START, END, "TERMINATED")


async def test_an_update_counts_the_rows_it_matched(db: Database) -> None:
    driver_insert = DriverStatement(insert(t_workflow_instance))
    savepoint = DriverStatement(update(t_workflow_instance).where(
        _wi.workflow_instance_id == bindparam("b_id")).values(
        workflow_instance_savepoint=bindparam("b_savepoint")))

    async def work(conn):  # type: ignore[no-untyped-def]
        new = await driver_insert.execute(conn, ROW)
        return (await savepoint.execute(conn, {"b_id": new, "b_savepoint": "<a/>"}),
                await savepoint.execute(conn, {"b_id": new + 100, "b_savepoint": "<b/>"}))

    assert await db.write(work) == (1, 0)


async def test_a_driver_error_is_the_stores_error_and_rolls_back(db: Database) -> None:
    driver_insert = DriverStatement(insert(t_workflow_instance))
    await db.write(lambda conn: driver_insert.execute(conn, {**ROW, "workflow_instance_id": 7}))

    async def twice(conn):  # type: ignore[no-untyped-def]
        await driver_insert.execute(conn, {**ROW, "workflow_instance_id": 8})
        await driver_insert.execute(conn, {**ROW, "workflow_instance_id": 7})

    with pytest.raises(DuplicateName):
        await db.write(twice)
    assert len(await stored(db)) == 1  # the row of id 8 went with the failed transaction
    await db.write(lambda conn: driver_insert.execute(conn, {**ROW, "workflow_instance_id": 8}))
    assert len(await stored(db)) == 2
