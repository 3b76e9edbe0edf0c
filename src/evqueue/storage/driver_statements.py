"""The few statements on the launch and end paths of every instance, compiled once and run on
the database's driver.

Through SQLAlchemy each execution builds an execution context, a cursor wrapper and a result,
and looks its statement up in the compiled cache; with an asyncio driver (asyncpg, aiomysql)
it also runs in a greenlet of its own. That is several times the cost of the driver's call
for a one-row INSERT or UPDATE. Rules:

* A :class:`DriverStatement` is compiled once per dialect and set of parameter names; its
  SQL text, parameter order and bind processors (SQLite's ``DATETIME`` text, asyncpg's casts)
  are SQLAlchemy's own, so what reaches the table is what ``conn.execute`` would have written.
* It runs on the driver connection under the transaction's own ``AsyncConnection``, in the
  same transaction as the statements SQLAlchemy runs there:

  - SQLite: the ``sqlite3`` connection, inside the ``BEGIN`` that ``Database`` emitted (the
    write lock is held: no busy wait);
  - PostgreSQL: the asyncpg connection, inside the transaction of SQLAlchemy's adapter,
    started here if the statement comes first (asyncpg itself would autocommit); a later
    ``conn.execute`` joins it and ``conn.commit`` ends it;
  - MariaDB: the aiomysql connection, whose session is never in autocommit: the statement
    opens the server's transaction, which ``conn.commit`` or :func:`commit_begun` ends.

  :func:`commit_begun` commits a transaction that only driver statements began (SQLAlchemy
  does not know of it); ``Database`` calls it after each write. A rollback needs no helper:
  ``Database`` closes a connection whose transaction failed, and closing rolls back.
* A driver error is raised as SQLAlchemy's ``DBAPIError`` of the kind SQLAlchemy would have
  raised (PostgreSQL's error translated by the adapter, a lost connection flagged as such),
  which ``Database`` retries or translates as any other. ``echo`` does not log these
  statements.
* The adapters' transaction slot and error translation are SQLAlchemy's private parts
  (``_transaction``, ``_start_transaction``, ``_handle_exception``): the suite runs every
  statement here on all three backends, so a SQLAlchemy that changes them fails there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

__all__ = ["DriverStatement", "commit_begun"]

#: (SQL text, for each positional parameter: its name and bind processor or None, the
#: values of the statement's own literals, and whether it returns the new row's id: an INSERT
#: on PostgreSQL whose id is not given)
_Compiled = tuple[str, list[tuple[str, Callable[[Any], Any] | None]], dict[str, Any], bool]


class DriverStatement:
    """An INSERT or UPDATE run on the database's driver (see the module rules).

    Args:
        statement: the statement; its bind names are the keys of the parameters given.
    """

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}
        self._primary_key = next(iter(statement.table.primary_key)).key  # type: ignore[attr-defined]

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        cache_key = (dialect.name, keys)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect, column_keys=list(keys))
            processors = sql._bind_processors
            order = [(name, processors.get(name)) for name in sql.positiontup or ()]
            literals = {name: bind.effective_value for name, bind in sql.binds.items()
                        if name not in keys and not bind.required}
            returning = bool(sql.effective_returning)
            compiled = self._compiled[cache_key] = (sql.string, order, literals, returning)
        return compiled

    def _rows(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]
              ) -> tuple[str, list[tuple[Any, ...]], bool]:
        sql, order, literals, returning = self._compile(dialect, tuple(rows[0]))
        values = []
        for row in rows:
            params = {**literals, **row} if literals else row
            values.append(tuple(params[name] if process is None else process(params[name])
                                for name, process in order))
        return sql, values, returning

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any]) -> int:
        """Run the statement once; returns the new row's id (an INSERT) or the rows matched."""
        sql, (values,), returning = self._rows(conn.dialect, [params])
        fairy = conn.sync_connection.connection  # type: ignore[union-attr]
        adapter = fairy.dbapi_connection
        insert = self.statement.is_insert
        try:
            match conn.dialect.name:
                case "sqlite":
                    cursor = fairy.driver_connection._conn.execute(sql, values)
                    return int(cursor.lastrowid if insert else cursor.rowcount)
                case "postgresql":
                    driver = await _pg_transaction(adapter)
                    if returning:
                        return int(await driver.fetchval(sql, *values))
                    status = await driver.execute(sql, *values)  # e.g. "UPDATE 1"
                    if insert:  # its id was given
                        return int(params[self._primary_key])
                    return int(status.rpartition(" ")[2])
                case _:
                    # aiomysql's buffered cursor holds nothing once executed: not closed
                    cursor = await fairy.driver_connection.cursor()
                    await cursor.execute(sql, values)
                    return int(cursor.lastrowid if insert else cursor.rowcount)
        except Exception as exc:
            raise _translated(conn, adapter, sql, values, exc) from exc

    async def executemany(self, conn: AsyncConnection,
                          rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement for each row (every row with the same keys)."""
        if not rows:
            return
        sql, values, _ = self._rows(conn.dialect, rows)
        fairy = conn.sync_connection.connection  # type: ignore[union-attr]
        adapter = fairy.dbapi_connection
        try:
            match conn.dialect.name:
                case "sqlite":
                    fairy.driver_connection._conn.executemany(sql, values)
                case "postgresql":
                    driver = await _pg_transaction(adapter)
                    await driver.executemany(sql, values)
                case _:
                    cursor = await fairy.driver_connection.cursor()
                    await cursor.executemany(sql, values)
        except Exception as exc:
            raise _translated(conn, adapter, sql, values, exc) from exc


async def commit_begun(conn: AsyncConnection) -> None:
    """Commit the transaction driver statements began on a server database while SQLAlchemy
    ran nothing on ``conn`` (it would not commit what it does not know of); nothing if none
    is open. SQLite's transactions are begun and committed by ``Database`` itself."""
    fairy = conn.sync_connection.connection  # type: ignore[union-attr]
    adapter = fairy.dbapi_connection
    try:
        match conn.dialect.name:
            case "postgresql":
                if adapter._transaction is not None:
                    await adapter._call_and_discard(adapter._transaction.commit)
            case "mysql" | "mariadb":
                driver = fairy.driver_connection
                if driver.get_transaction_status():
                    await driver.commit()
    except Exception as exc:
        raise _translated(conn, adapter, "COMMIT", (), exc) from exc


async def _pg_transaction(adapter: Any) -> Any:
    """The asyncpg connection, in the adapter's transaction (started now if none is)."""
    if adapter._transaction is None:
        await adapter._start_transaction()
    return adapter._connection


def _translated(conn: AsyncConnection, adapter: Any, sql: str, values: Any,
                exc: Exception) -> Exception:
    """``exc`` as SQLAlchemy would have raised it from ``conn.execute``."""
    dbapi = conn.dialect.loaded_dbapi
    if not isinstance(exc, dbapi.Error):
        try:
            adapter._handle_exception(exc)  # raises the adapter's own kind of the error
        except Exception as raised:  # noqa: BLE001 - translated, or the error itself
            exc = raised
    if not isinstance(exc, dbapi.Error):
        return exc  # not the database's (a bug): raised as it is, as SQLAlchemy does
    return DBAPIError.instance(
        sql, values, exc, dbapi.Error,
        connection_invalidated=conn.dialect.is_disconnect(exc, adapter, None))
