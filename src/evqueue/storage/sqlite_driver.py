"""SQLite for the asyncio engine without a thread hop per call: aiosqlite's API, run inline.

aiosqlite runs every call (cursor, execute, fetch, commit, close) on a worker thread and wakes
the event loop when it is done. A SQLite statement in WAL mode takes tens of microseconds; the
two thread switches around it take hundreds, and milliseconds on a busy machine (the worker
waits for the GIL while the loop works). A read verb is about eight such calls. So this module
gives SQLAlchemy's aiosqlite dialect a connection with aiosqlite's interface whose calls run
on the loop's thread, directly. Rules:

* :class:`InlineConnection` is an ``aiosqlite.Connection`` whose ``_execute`` calls the
  function at once; its worker thread is never started. Everything SQLAlchemy's dialect does
  with it (cursors, the isolation-level setter, close, terminate) goes through that path.
* Waiting for another process's lock never blocks the loop: connections are opened with a
  busy timeout of 0, and a call that fails with ``SQLITE_BUSY``/``SQLITE_LOCKED`` is tried
  again after an ``asyncio.sleep`` (1 ms growing to 50 ms) until :data:`BUSY_TIMEOUT` has
  passed. Retrying one call is sound: in WAL mode a busy error comes from ``BEGIN
  IMMEDIATE`` (the write lock, taken before any change) or from a read that has not started,
  and a statement that fails busy has changed nothing.
* What stays on the loop is SQLite's own work: microseconds for the engine's statements, the
  time of the query itself for a large history query, and the occasional WAL checkpoint.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

__all__ = ["BUSY_TIMEOUT", "InlineConnection", "begin", "inline_creator"]

#: Seconds a call waits for another process's lock before failing (SQLite's busy timeout).
BUSY_TIMEOUT = 30.0
_FIRST_WAIT = 0.001
_LONGEST_WAIT = 0.05
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(exc)


class _InlineCalls:
    """Stands in for aiosqlite's queue to its worker thread: runs each call at once."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling (event loop) thread."""

    def __init__(self, connector: Callable[[], sqlite3.Connection],
                 iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _InlineCalls()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        deadline = None
        wait = _FIRST_WAIT
        while True:
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + BUSY_TIMEOUT
                if now >= deadline:
                    raise
            await asyncio.sleep(wait)
            wait = min(wait * 2, _LONGEST_WAIT)


async def begin(connection: InlineConnection, immediate: bool) -> None:
    """Open a transaction on *connection* (``BEGIN IMMEDIATE`` takes the write lock at once),
    straight on the driver: SQLAlchemy's ``begin`` event calls it for every transaction."""
    await connection._execute(connection._conn.execute,
                              "BEGIN IMMEDIATE" if immediate else "BEGIN")


def inline_creator(path: str, **kwargs: Any) -> Callable[[], Awaitable[InlineConnection]]:
    """The ``async_creator`` of an SQLAlchemy engine on the SQLite file *path*.

    Args:
        path: the database file (or ``:memory:``).
        **kwargs: more ``sqlite3.connect`` arguments (``uri=True``…).

    Returns:
        A coroutine function opening one :class:`InlineConnection`.
    """

    def connector() -> sqlite3.Connection:
        # timeout=0: a lock held by another process fails fast and is waited for
        # asynchronously by InlineConnection, never inside SQLite's busy handler.
        return sqlite3.connect(path, timeout=0, check_same_thread=False, **kwargs)

    async def create() -> InlineConnection:
        connection = InlineConnection(connector)
        return await connection._connect()

    return create
