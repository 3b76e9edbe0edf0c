"""The inline SQLite driver: calls on the loop's thread, lock waits that never block the loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time

from sqlalchemy import func, insert, select

from evqueue.storage.database import Database
from evqueue.storage.logs import add_log
from evqueue.storage.schema import create_schema
from evqueue.storage.sqlite_driver import InlineConnection, inline_creator
from evqueue.storage.tables import t_log

_HOLD_LOCK = textwrap.dedent("""
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    db.execute("COMMIT")
""")


async def test_calls_run_on_the_loop_thread_without_a_worker(tmp_path) -> None:
    connection = await inline_creator(str(tmp_path / "x.db"))()
    try:
        assert isinstance(connection, InlineConnection)
        async with connection.execute("SELECT 1") as cursor:
            assert await cursor.fetchall() == [(1,)]
        assert not connection._thread.is_alive()
    finally:
        await connection.close()


async def test_a_database_runs_without_extra_threads(tmp_path) -> None:
    before = threading.active_count()
    database = await Database.open(f"sqlite:///{tmp_path / 'e.db'}")
    try:
        await create_schema(database)
        await asyncio.gather(*(add_log(database, "n", 6, str(i)) for i in range(10)))
        assert await database.scalar(select(func.count()).select_from(t_log)) == 10
        assert threading.active_count() == before
    finally:
        await database.close()


async def test_a_lock_held_by_another_process_is_waited_for_without_blocking_the_loop(
        tmp_path) -> None:
    path = tmp_path / "e.db"
    database = await Database.open(f"sqlite:///{path}")
    await create_schema(database)
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(path), "0.5"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        running = asyncio.create_task(ticker())
        started = time.monotonic()
        await database.execute(insert(t_log).values(node_name="n", log_level=6,
                                                    log_message="after the lock"))
        waited = time.monotonic() - started
        running.cancel()
        assert waited > 0.2  # it really waited for the other process's commit
        assert ticks >= 10  # ...while the loop went on running other work
        assert await database.scalar(select(func.count()).select_from(t_log)) == 1
    finally:
        holder.wait(10)
        await database.close()
