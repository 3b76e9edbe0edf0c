"""The database handle: one SQLAlchemy asyncio engine and the transactions run on it.

Rules:

* Every storage verb runs as one transaction through ``Database.read(work)`` or
  ``Database.write(work)``, where ``work`` is an ``async`` callable taking the connection.
  A failed transaction is retried as a whole when the error is transient and translated into
  a ``StorageError`` otherwise (policy in ``evqueue.storage.transactions``).
* SQLite runs in WAL mode, so several engines on one machine can share one file. Its calls
  run on the event loop's thread (:mod:`evqueue.storage.sqlite_driver`: a thread hop costs
  more than the statement), and a lock held by another process is waited for with
  ``asyncio.sleep``, never inside SQLite. Write transactions start with
  ``BEGIN IMMEDIATE``: the write lock is taken up front, so two processes writing at once
  wait for each other instead of failing with "database is locked" when a reader upgrades.
  Writers of one process queue on an ``asyncio.Lock`` rather than spin in SQLite's busy
  handler, and share one connection kept open between their transactions (a pool checkout,
  a connection object and its options cost more than a small transaction's statements); it
  is dropped after any failure and opened again by the next writer. Readers keep a few idle
  connections the same way, without a lock (overlapping reads open more). Transactions are
  begun and committed on the driver, not through SQLAlchemy (:meth:`_sqlite_transaction`).
  ``synchronous=NORMAL``: a commit survives a crash of the process, and the file stays
  consistent after a power loss (the last commits may be lost then).
* A database server across the network is waited for a bounded time: connecting gives up
  after a few seconds and a silently cut link is noticed within seconds
  (:mod:`evqueue.storage.network`), so a node cut off from its store reports the failure
  instead of waiting for TCP's retransmissions.
* MariaDB/MySQL sessions use READ COMMITTED, as PostgreSQL does by default, so the backends
  behave alike and concurrent inserts do not deadlock on gap locks.
* ``exclusive(name)`` serialises a critical section across every engine that shares the
  database: a PostgreSQL advisory lock, a MariaDB ``GET_LOCK``, or for SQLite an ``flock``
  on ``<database file>.lock`` next to the database. Elections and schema creation use it.
  Sections must not nest (on SQLite one lock serves every name).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event, select, text
from sqlalchemy.engine import URL, Row
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable
from sqlalchemy.util.concurrency import await_

from evqueue.storage.driver_statements import commit_begun
from evqueue.storage.errors import DatabaseUnavailable, StorageError
from evqueue.storage.network import CONNECT_TIMEOUT, connect_args, watch_dead_links
from evqueue.storage.sqlite_driver import begin as sqlite_begin
from evqueue.storage.sqlite_driver import inline_creator
from evqueue.storage.tables import t_user
from evqueue.storage.transactions import MAX_ATTEMPTS, backoff, is_transient, translate
from evqueue.storage.url import ConfigLike, async_url, url_from_config

__all__ = ["DEFAULT_ADMIN_PASSWORD_SHA1", "Database", "Work"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncConnection], Awaitable[T]]

#: SHA-1 of "admin", the password evQueue seeds for the ``admin`` user.
DEFAULT_ADMIN_PASSWORD_SHA1 = hashlib.sha1(b"admin").hexdigest()

EXCLUSIVE_TIMEOUT_S = 30
_LOCK_POLL_S = 0.02
_WRITE_OPTION = "evq_write"
#: Connections kept open between transactions (more are opened when transactions overlap,
#: and closed after them). Few: they stay checked out of the engine's pool.
_IDLE_CONNECTIONS = 2
#: A connection idle for longer is closed, not used again.
_IDLE_SECONDS = 60.0


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (the driver's implicit BEGIN is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # 0: a busy database fails at once and the driver waits without blocking the loop.
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        inline = conn.connection.driver_connection
        if inline._conn.in_transaction:
            return  # begun on the driver already (Database._sqlite_transaction)
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        # On the driver itself: exec_driver_sql would run a whole statement execution.
        await_(sqlite_begin(inline, write))


def _create_engine(url: URL, echo: bool) -> AsyncEngine:
    backend = url.get_backend_name()
    options: dict[str, Any] = {"echo": echo}
    if backend == "sqlite":
        options["async_creator"] = inline_creator(url.database or ":memory:")
        # Every use ends its transaction itself (commit, or rollback on error or close):
        # skip the pool's extra ROLLBACK, one more statement per transaction.
        options["pool_reset_on_return"] = None
        if url.database in (None, "", ":memory:"):
            options["poolclass"] = StaticPool  # one shared in-memory database
    else:
        options["connect_args"] = connect_args(backend)
    if backend in ("mysql", "mariadb"):
        options["isolation_level"] = "READ COMMITTED"
        options["pool_recycle"] = 1800  # before the server's wait_timeout drops idle sessions
    engine = create_async_engine(url, **options)
    if backend == "sqlite":
        _configure_sqlite(engine)
    else:
        watch_dead_links(engine)
    return engine


class _ConnectError(Exception):
    """A connection could not be opened (raised from the driver's ``OSError``)."""


def _translate(exc: DBAPIError | _ConnectError) -> StorageError:
    if isinstance(exc, _ConnectError):
        return DatabaseUnavailable(f"database unavailable: {exc}")
    return translate(exc)


class Database:
    """An open database: the engine plus transaction helpers used by the storage verbs.

    Create it with ``await Database.open(url)`` or ``await Database.from_config(cfg)``; it
    connects lazily. Close it with ``await db.close()``.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        # An in-memory SQLite database is one shared connection: one transaction at a time.
        self._memory = self._sqlite and engine.url.database in (None, "", ":memory:")
        self._write_lock = asyncio.Lock()
        self._memory_lock = asyncio.Lock()
        self._writer: AsyncConnection | None = None  # SQLite: kept between write transactions
        # Connections kept between transactions (the SQLite writer's excepted), with the
        # time each became idle.
        self._idle: list[tuple[AsyncConnection, float]] = []

    @classmethod
    async def open(cls, url: str | URL, *, echo: bool = False) -> Database:
        """Open a database by URL (sync or bare URLs are mapped to the asyncio drivers).

        Args:
            url: A SQLAlchemy URL, e.g. ``sqlite:///evqueue.db`` or ``postgresql://h/db``.
            echo: Log every SQL statement (SQLAlchemy's ``echo``).

        Returns:
            The database handle; no connection is made yet.
        """
        return cls(_create_engine(async_url(url), echo))

    @classmethod
    async def from_config(cls, cfg: ConfigLike, *, echo: bool = False) -> Database:
        """Open the database an engine configuration selects (see ``evqueue.storage.url``)."""
        return cls(_create_engine(url_from_config(cfg), echo))

    @property
    def engine(self) -> AsyncEngine:
        """The SQLAlchemy engine (for tests and tools; verbs use ``read``/``write``)."""
        return self._engine

    @property
    def url(self) -> str:
        """The URL this database was opened with (asyncio driver, password included)."""
        return self._engine.url.render_as_string(hide_password=False)

    @property
    def dialect_name(self) -> str:
        """``sqlite``, ``postgresql``, ``mariadb`` or ``mysql``."""
        return self._engine.dialect.name

    @property
    def is_mysql(self) -> bool:
        """Whether the backend is MariaDB or MySQL."""
        return self.dialect_name in ("mysql", "mariadb")

    async def close(self) -> None:
        """Close every pooled connection."""
        await self._drop_writer()
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await self._close_quietly(conn)
        await self._engine.dispose()

    # --- transactions --------------------------------------------------------------------

    async def read(self, work: Work[T]) -> T:
        """Run ``work(conn)`` in a read transaction, retrying transient failures."""
        return await self._run(work, write=False)

    async def write(self, work: Work[T]) -> T:
        """Run ``work(conn)`` in a write transaction, retrying transient failures."""
        return await self._run(work, write=True)

    async def _run(self, work: Work[T], *, write: bool) -> T:
        attempt = 0
        while True:
            try:
                return await self._once(work, write)
            except (DBAPIError, _ConnectError) as exc:
                transient = isinstance(exc, _ConnectError) or is_transient(exc)
                if attempt + 1 >= MAX_ATTEMPTS or not transient:
                    cause = exc.__cause__ if isinstance(exc, _ConnectError) else exc
                    raise _translate(exc) from cause
                delay = backoff(attempt)
                logger.warning("transient database error, retrying in %.2fs: %s", delay, exc)
                await asyncio.sleep(delay)
                attempt += 1
            except SQLAlchemyError as exc:
                raise translate(exc) from exc

    async def _once(self, work: Work[T], write: bool) -> T:
        if self._sqlite and (write or self._memory):
            async with self._write_lock:
                conn = self._writer
                if conn is None or conn.closed or conn.invalidated:
                    conn = await self._open_writer()
                try:
                    return await self._sqlite_transaction(conn, work, immediate=True)
                except BaseException:
                    # The connection may be in any state now: the next writer opens another.
                    await self._drop_writer()
                    raise
        conn = await self._idle_connection()
        try:
            if self._sqlite:
                result = await self._sqlite_transaction(conn, work, immediate=False)
            else:
                # Begun by the first statement (SQLAlchemy's autobegin, or a driver
                # statement's): an explicit begin would cost one more greenlet and sends
                # nothing to the server either.
                result = await work(conn)
                if conn.in_transaction():
                    await conn.commit()
                else:  # driver statements alone began one: SQLAlchemy would not commit it
                    await commit_begun(conn)
        except BaseException:
            await self._close_quietly(conn)  # in any state now (closing rolls back): not kept
            raise
        await self._keep_idle(conn)
        return result

    async def _idle_connection(self) -> AsyncConnection:
        """An idle connection kept by :meth:`_keep_idle`, or a new one when none is (a
        transaction started inside another, or beside it, gets its own).

        A connection taken from SQLAlchemy's pool and given back costs a greenlet each way
        (and a ``ROLLBACK`` on the way back): more than a short transaction's statements on
        SQLite, a third of a one-row write's time on MariaDB. Connections idle for
        :data:`_IDLE_SECONDS` are closed rather than used: a server may have dropped them.
        """
        now = time.monotonic()
        while self._idle:
            conn, since = self._idle.pop()
            if now - since < _IDLE_SECONDS and not conn.closed and not conn.invalidated:
                return conn
            await self._close_quietly(conn)
        return await self._new_connection()

    async def _new_connection(self) -> AsyncConnection:
        conn = self._engine.connect()
        try:
            await conn.start()
        except OSError as exc:  # asyncpg reports a refused connection as a bare OSError
            # a connect timeout (TimeoutError, an OSError) comes without a message
            raise _ConnectError(str(exc) or f"no connection within {CONNECT_TIMEOUT:g} s") \
                from exc
        return conn

    async def _keep_idle(self, conn: AsyncConnection) -> None:
        if len(self._idle) < _IDLE_CONNECTIONS and not conn.closed and not conn.invalidated:
            self._idle.append((conn, time.monotonic()))
        else:
            await self._close_quietly(conn)

    @staticmethod
    async def _close_quietly(conn: AsyncConnection) -> None:
        with contextlib.suppress(SQLAlchemyError, OSError):
            await conn.close()

    @staticmethod
    async def _sqlite_transaction(conn: AsyncConnection, work: Work[T], *,
                                  immediate: bool) -> T:
        """One SQLite transaction, begun and committed on the driver.

        Through SQLAlchemy, ``begin`` and ``commit`` each run in a greenlet of their own, and
        a greenlet maps and unmaps a stack for Python's frames when it starts and ends (an
        ``munmap`` makes the kernel flush the other CPUs' address caches): a seventh of the
        engine's time for a launch alone. The storage verbs on the hot paths run their
        statements on the driver too (:mod:`evqueue.storage.driver_statements`); a verb
        that uses ``conn.execute`` makes SQLAlchemy join this transaction (its ``begin``
        event sees it open), and SQLAlchemy commits it then.
        """
        inline = conn.sync_connection.connection.driver_connection
        driver: sqlite3.Connection = inline._conn
        try:
            await sqlite_begin(inline, immediate)
        except sqlite3.Error as exc:
            raise DBAPIError.instance("BEGIN", (), exc, sqlite3.Error) from exc
        try:
            result = await work(conn)
        except BaseException:
            if conn.in_transaction():
                await conn.rollback()
            elif driver.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    driver.rollback()
            raise
        if conn.in_transaction():
            await conn.commit()
        else:
            try:
                await inline._execute(driver.commit)
            except sqlite3.Error as exc:
                raise DBAPIError.instance("COMMIT", (), exc, sqlite3.Error) from exc
        return result

    async def _open_writer(self) -> AsyncConnection:
        conn = await self._new_connection()
        self._writer = await conn.execution_options(**{_WRITE_OPTION: True})
        return self._writer

    async def _drop_writer(self) -> None:
        conn, self._writer = self._writer, None
        if conn is not None:
            await self._close_quietly(conn)

    # --- one-statement helpers -----------------------------------------------------------

    async def fetch_all(self, stmt: Executable) -> list[Row[Any]]:
        """Rows of one read statement."""

        async def work(conn: AsyncConnection) -> list[Row[Any]]:
            return list((await conn.execute(stmt)).all())

        return await self.read(work)

    async def fetch_one(self, stmt: Executable) -> Row[Any] | None:
        """The first row of one read statement, or None."""

        async def work(conn: AsyncConnection) -> Row[Any] | None:
            return (await conn.execute(stmt)).first()

        return await self.read(work)

    async def scalar(self, stmt: Executable) -> Any:
        """The first column of the first row of one read statement, or None."""

        async def work(conn: AsyncConnection) -> Any:
            return (await conn.execute(stmt)).scalar()

        return await self.read(work)

    async def execute(self, stmt: Executable) -> int:
        """Run one write statement; returns the number of rows it matched."""

        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(stmt)).rowcount)

        return await self.write(work)

    async def insert(self, stmt: Executable) -> int:
        """Run one single-row INSERT; returns the new row's auto-increment id."""

        async def work(conn: AsyncConnection) -> int:
            return int((await conn.execute(stmt)).inserted_primary_key[0])

        return await self.write(work)

    # --- cluster-wide critical sections --------------------------------------------------

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Hold a lock named ``name`` shared by every engine using this database.

        Args:
            name: Any string; engines using the same name exclude each other.

        Raises:
            StorageError: The lock could not be taken within ``EXCLUSIVE_TIMEOUT_S``.
        """
        if self._sqlite:
            async with self._sqlite_exclusive():
                yield
            return
        digest = hashlib.sha1(name.encode()).digest()
        key: Any = (
            "evq:" + digest.hex()
            if self.is_mysql
            else int.from_bytes(digest[:8], "big", signed=True)
        )
        try:
            conn = await self._engine.connect()
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        except (SQLAlchemyError, OSError) as exc:
            raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
        try:
            await self._acquire(conn, key)
            try:
                yield
            finally:
                release = "SELECT RELEASE_LOCK(:key)" if self.is_mysql else (
                    "SELECT pg_advisory_unlock(:key)"
                )
                with contextlib.suppress(SQLAlchemyError, OSError):
                    await conn.execute(text(release), {"key": key})
        finally:
            with contextlib.suppress(SQLAlchemyError, OSError):
                await conn.close()

    @contextlib.asynccontextmanager
    async def _sqlite_exclusive(self) -> AsyncIterator[None]:
        """flock() on ``<database>.lock``: excludes other processes and other ``Database``
        objects of this process (each opens its own descriptor). One lock for all names."""
        if self._memory:
            async with self._memory_lock:
                yield
            return
        fd = os.open(f"{self._engine.url.database}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + EXCLUSIVE_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if loop.time() >= deadline:
                        raise StorageError(
                            "timed out waiting for a cluster-wide database lock"
                        ) from None
                    await asyncio.sleep(_LOCK_POLL_S)
            yield
        finally:
            os.close(fd)  # releases the lock

    async def _acquire(self, conn: AsyncConnection, key: Any) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EXCLUSIVE_TIMEOUT_S
        try:
            if self.is_mysql:
                got = await conn.scalar(
                    text("SELECT GET_LOCK(:key, :timeout)"),
                    {"key": key, "timeout": EXCLUSIVE_TIMEOUT_S},
                )
            else:
                # Poll instead of blocking in pg_advisory_lock: cancelling a blocked
                # statement on timeout would leave the session in an unknown state.
                try_lock = text("SELECT pg_try_advisory_lock(:key)")
                while not (got := await conn.scalar(try_lock, {"key": key})):
                    if loop.time() >= deadline:
                        break
                    await asyncio.sleep(_LOCK_POLL_S)
        except SQLAlchemyError as exc:
            raise translate(exc) from exc
        if not got:
            raise StorageError("timed out waiting for a cluster-wide database lock")

    # --- start-up helpers ----------------------------------------------------------------

    async def wait_for_db(self, timeout: float) -> None:
        """Try to connect every second until the database answers (``--wait-db``).

        Args:
            timeout: Seconds to keep trying; 0 tries once.

        Raises:
            DatabaseUnavailable: Still unreachable after ``timeout`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                async with self._engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
                return
            except (SQLAlchemyError, OSError) as exc:
                if loop.time() >= deadline:
                    raise DatabaseUnavailable(f"database unavailable: {exc}") from exc
                logger.info("waiting for the database: %s", exc)
            await asyncio.sleep(min(1.0, max(0.0, deadline - loop.time())))

    async def admin_password_is_default(self) -> bool:
        """Whether the user ``admin`` still has the password ``admin`` (start-up warning)."""
        stored = await self.scalar(
            select(t_user.c.user_password).where(t_user.c.user_login == "admin")
        )
        return isinstance(stored, str) and stored.lower() == DEFAULT_ADMIN_PASSWORD_SHA1
