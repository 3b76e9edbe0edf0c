"""The database handle: opening, transactions, retries, concurrency between engines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.driver_statements import DriverStatement
from evqueue.storage.errors import DatabaseUnavailable, StorageError
from evqueue.storage.logs import add_log
from evqueue.storage.schema import create_schema
from evqueue.storage.tables import t_log, t_tag
from evqueue.storage.users import get_user_by_login, set_password

pytestmark = pytest.mark.backends


async def _count_logs(db: Database) -> int:
    return int(await db.scalar(select(func.count()).select_from(t_log)))


async def test_dialect_name(db: Database, backend_name: str) -> None:
    assert db.dialect_name == backend_name


async def test_from_config_uses_database_url(db_url: str, backend_name: str) -> None:
    database = await Database.from_config({"database.url": db_url})
    try:
        await create_schema(database)
        assert database.dialect_name == backend_name
        assert await get_user_by_login(database, "admin") is not None
    finally:
        await database.close()


async def test_from_config_default_file_in_working_directory(tmp_path: os.PathLike[str]) -> None:
    database = await Database.from_config({"core.wd": str(tmp_path)})
    try:
        await create_schema(database)
    finally:
        await database.close()
    assert os.path.exists(os.path.join(tmp_path, "evqueue.db"))


async def test_in_memory_database() -> None:
    database = await Database.open("sqlite://")
    try:
        await create_schema(database)
        await asyncio.gather(*(add_log(database, "n", 6, str(i)) for i in range(20)),
                             *(_count_logs(database) for _ in range(20)))
        assert await _count_logs(database) == 20
    finally:
        await database.close()


async def test_wait_for_db_returns_when_reachable(db: Database) -> None:
    await db.wait_for_db(timeout=5)


# Nothing listens on port 1 of localhost.
UNREACHABLE = ["postgresql://postgres@127.0.0.1:1/test", "mariadb://root@127.0.0.1:1/test"]


@pytest.mark.parametrize("url", UNREACHABLE)
async def test_wait_for_db_gives_up(url: str) -> None:
    database = await Database.open(url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.wait_for_db(timeout=1.2)
    finally:
        await database.close()
    assert 1.0 <= loop.time() - started < 5


@pytest.mark.parametrize("url", UNREACHABLE)
async def test_verbs_report_an_unreachable_database(url: str) -> None:
    database = await Database.open(url)
    try:
        with pytest.raises(DatabaseUnavailable):
            await get_user_by_login(database, "admin")
    finally:
        await database.close()


async def test_admin_password_default_warning(db: Database) -> None:
    assert await db.admin_password_is_default()
    admin = await get_user_by_login(db, "admin")
    assert admin is not None
    await set_password(db, admin.id, "s3cret")
    assert not await db.admin_password_is_default()


async def _break_first_attempt(conn: AsyncConnection, db_path: str | None) -> None:
    """Make the current transaction fail with a genuine transient error."""
    name = conn.dialect.name
    if name == "postgresql":
        await conn.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
    elif name in ("mysql", "mariadb"):
        await conn.execute(text("KILL CONNECTION_ID()"))
    else:
        # Another writer commits after our read snapshot: upgrading it is SQLITE_BUSY.
        other = sqlite3.connect(db_path or "", isolation_level=None)
        other.execute("INSERT INTO t_tag(tag_label) VALUES ('other')")
        other.close()
        await conn.execute(insert(t_tag).values(tag_label="mine"))


async def test_transient_error_is_retried(db: Database) -> None:
    attempts = 0
    db_path = db.engine.url.database if db.dialect_name == "sqlite" else None

    async def work(conn: AsyncConnection) -> list[str]:
        nonlocal attempts
        attempts += 1
        await conn.execute(select(t_tag.c.tag_id))  # start the read snapshot
        if attempts == 1:
            await _break_first_attempt(conn, db_path)
        await conn.execute(insert(t_tag).values(tag_label="mine"))
        return list((await conn.execute(select(t_tag.c.tag_label))).scalars())

    labels = await db.read(work)
    assert attempts == 2
    assert labels.count("mine") == 1


async def test_other_errors_are_not_retried(db: Database) -> None:
    attempts = 0

    async def work(conn: AsyncConnection) -> None:
        nonlocal attempts
        attempts += 1
        await conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(StorageError):
        await db.read(work)
    assert attempts == 1


async def test_exception_in_work_rolls_back(db: Database) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.execute(insert(t_tag).values(tag_label="lost"))
        raise ValueError("caller's own error")

    with pytest.raises(ValueError, match="caller's own error"):
        await db.write(work)
    assert await db.scalar(select(func.count()).select_from(t_tag)) == 0


async def test_two_engines_write_concurrently(db: Database) -> None:
    other = await Database.open(db.url)
    try:
        writes = [
            add_log(database, "node", 6, f"line {i}")
            for i in range(60)
            for database in (db, other)
        ]
        await asyncio.gather(*writes)
    finally:
        await other.close()
    assert await _count_logs(db) == 120


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from evqueue.storage.database import Database
    from evqueue.storage.logs import add_log

    async def main(url):
        db = await Database.open(url)
        try:
            for i in range(100):
                await add_log(db, "child", 6, f"child {i}")
        finally:
            await db.close()

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_two_processes_write_concurrently(db: Database) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER, db.url, stderr=subprocess.PIPE
    )
    for i in range(100):
        await add_log(db, "parent", 6, f"parent {i}")
    _, stderr = await child.communicate()
    assert child.returncode == 0, stderr.decode()
    assert await _count_logs(db) == 200


async def test_exclusive_sections_do_not_overlap(db: Database) -> None:
    other = await Database.open(db.url)
    inside = 0
    overlaps = 0
    entries = 0

    async def critical(database: Database) -> None:
        nonlocal inside, overlaps, entries
        async with database.exclusive("test-lock"):
            inside += 1
            entries += 1
            overlaps += inside > 1
            await asyncio.sleep(0.01)  # let the other tasks try to enter
            await database.execute(insert(t_tag).values(tag_label=f"t{entries}"))
            inside -= 1

    try:
        await asyncio.gather(*(critical(d) for _ in range(5) for d in (db, other)))
    finally:
        await other.close()
    assert entries == 10
    assert overlaps == 0


async def _labels(db: Database) -> list[str]:
    return sorted(row[0] for row in await db.fetch_all(select(t_tag.c.tag_label)))


async def test_driver_statements_and_sqlalchemy_share_one_transaction(db: Database) -> None:
    """A write that runs statements on the driver and through SQLAlchemy commits them
    together, and a failure after both leaves neither."""
    on_driver = DriverStatement(insert(t_tag))

    async def both(conn: AsyncConnection) -> None:
        await on_driver.execute(conn, {"tag_label": "driver"})
        await conn.execute(insert(t_tag).values(tag_label="sqlalchemy"))

    async def both_then_fail(conn: AsyncConnection) -> None:
        await on_driver.execute(conn, {"tag_label": "lost on the driver"})
        await conn.execute(insert(t_tag).values(tag_label="lost through sqlalchemy"))
        raise ValueError("caller's own error")

    await db.write(both)
    with pytest.raises(ValueError):
        await db.write(both_then_fail)
    assert await _labels(db) == ["driver", "sqlalchemy"]


async def test_a_driver_statement_joins_what_sqlalchemy_began(db: Database) -> None:
    """The other order: SQLAlchemy's statement begins the transaction, the driver's joins
    it, and both are committed, or rolled back, as one."""
    on_driver = DriverStatement(insert(t_tag))

    async def both(conn: AsyncConnection, fail: bool) -> None:
        await conn.execute(insert(t_tag).values(tag_label=f"sqlalchemy {fail}"))
        await on_driver.execute(conn, {"tag_label": f"driver {fail}"})
        if fail:
            raise ValueError("caller's own error")

    with pytest.raises(ValueError):
        await db.write(lambda conn: both(conn, True))
    await db.write(lambda conn: both(conn, False))
    other = await Database.open(db.url)  # what another connection sees: committed rows only
    try:
        assert await _labels(other) == ["driver False", "sqlalchemy False"]
    finally:
        await other.close()


async def test_a_write_on_the_driver_alone_is_committed_or_rolled_back(db: Database) -> None:
    on_driver = DriverStatement(insert(t_tag))

    async def kept(conn: AsyncConnection, labels: tuple[str, ...] = ("a", "b")) -> None:
        await on_driver.executemany(conn, [{"tag_label": label} for label in labels])

    async def lost(conn: AsyncConnection) -> None:
        await on_driver.execute(conn, {"tag_label": "c"})
        raise ValueError("caller's own error")

    await db.write(kept)
    with pytest.raises(ValueError):
        await db.write(lost)
    await db.write(lambda conn: kept(conn, ("d",)))  # the writer works after a failure
    other = await Database.open(db.url)  # what another connection sees: committed rows only
    try:
        assert await _labels(other) == ["a", "b", "d"]
    finally:
        await other.close()


async def test_a_nested_savepoint_inside_a_write(db: Database) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.execute(insert(t_tag).values(tag_label="outer"))
        with contextlib.suppress(ValueError):
            async with conn.begin_nested():
                await conn.execute(insert(t_tag).values(tag_label="inner"))
                raise ValueError("undo the inner part only")

    await db.write(work)
    assert await _labels(db) == ["outer"]


async def test_a_kept_read_connection_sees_what_others_committed_since(db: Database) -> None:
    assert await _labels(db) == []
    other = await Database.open(db.url)
    try:
        await other.execute(insert(t_tag).values(tag_label="from another engine"))
    finally:
        await other.close()
    assert await _labels(db) == ["from another engine"]


async def test_reads_inside_reads_and_reads_at_once(db: Database) -> None:
    await db.execute(insert(t_tag).values(tag_label="x"))

    async def outer(conn: AsyncConnection) -> list[str]:
        first = list((await conn.execute(select(t_tag.c.tag_label))).scalars())
        return first + await _labels(db)  # a read started inside another

    async def slow(conn: AsyncConnection) -> int:
        rows = list((await conn.execute(select(t_tag.c.tag_label))).scalars())
        await asyncio.sleep(0.01)  # the others start meanwhile
        return len(rows)

    assert await db.read(outer) == ["x", "x"]
    assert await asyncio.gather(*(db.read(slow) for _ in range(12))) == [1] * 12


async def test_a_failed_read_does_not_spoil_the_next(db: Database) -> None:
    async def broken(conn: AsyncConnection) -> None:
        await conn.execute(select(t_tag.c.tag_label))
        raise ValueError("caller's own error")

    for _ in range(3):
        with pytest.raises(ValueError):
            await db.read(broken)
        assert await _labels(db) == []


@pytest.mark.parametrize("first", ["sqlalchemy", "driver"])
async def test_a_kept_connection_the_server_dropped_is_replaced(db: Database, first: str
                                                                ) -> None:
    """Connections stay open between transactions; one the server closed meanwhile (a
    restart, an idle timeout) costs the next transaction a retry, not a failure, whether
    its first statement runs through SQLAlchemy or on the driver."""
    if db.dialect_name == "sqlite":
        pytest.skip("no server to drop a SQLite connection")
    mysql = db.dialect_name != "postgresql"
    own_id = text("SELECT CONNECTION_ID()" if mysql else "SELECT pg_backend_pid()")
    kept = await db.scalar(own_id)  # this connection is kept for the next transaction
    other = await Database.open(db.url)
    try:
        await other.execute(text(f"KILL {int(kept)}" if mysql
                                 else f"SELECT pg_terminate_backend({int(kept)})"))
    finally:
        await other.close()
    if first == "driver":
        await db.write(lambda conn: DriverStatement(insert(t_tag)).execute(
            conn, {"tag_label": "after the drop"}))
    else:
        await db.execute(insert(t_tag).values(tag_label="after the drop"))
    assert await _labels(db) == ["after the drop"]
    assert await db.scalar(own_id) != kept
