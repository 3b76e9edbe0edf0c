"""The few statements on the launch and end paths of every instance, compiled once and run on
SQLite's driver.

Through SQLAlchemy each execution builds an execution context, a cursor wrapper and a result,
and looks its statement up in the compiled cache: several times the cost of the SQLite call
itself for a one-row INSERT or UPDATE. Rules:

* A :class:`DriverStatement` is compiled once per dialect and set of parameter names; its
  SQL text, parameter order and bind processors (SQLite's ``DATETIME`` text) are SQLAlchemy's
  own, so what reaches the table is what ``conn.execute`` would have written.
* On SQLite it runs on the ``sqlite3`` connection of the transaction's own connection (the
  same ``BEGIN IMMEDIATE``, no busy wait: the write lock is held); a driver error is raised as
  SQLAlchemy's ``DBAPIError`` of the same kind, which ``Database`` translates as any other.
  ``echo`` does not log these statements.
* On PostgreSQL and MariaDB it is ``conn.execute`` (their drivers are awaited: nothing to
  gain on this side).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

__all__ = ["DriverStatement"]

#: (SQL text, for each positional parameter: its name and bind processor or None, and the
#: values of the statement's own literals)
_Compiled = tuple[str, list[tuple[str, Callable[[Any], Any] | None]], dict[str, Any]]


class DriverStatement:
    """An INSERT or UPDATE run on SQLite's driver (see the module rules).

    Args:
        statement: the statement; its bind names are the keys of the parameters given.
    """

    def __init__(self, statement: UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def _compile(self, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
        cache_key = (dialect.name, keys)
        compiled = self._compiled.get(cache_key)
        if compiled is None:
            sql = self.statement.compile(dialect=dialect, column_keys=list(keys))
            processors = sql._bind_processors
            order = [(name, processors.get(name)) for name in sql.positiontup or ()]
            literals = {name: bind.effective_value for name, bind in sql.binds.items()
                        if name not in keys and not bind.required}
            compiled = self._compiled[cache_key] = (sql.string, order, literals)
        return compiled

    @staticmethod
    def _driver(conn: AsyncConnection) -> sqlite3.Connection | None:
        if conn.dialect.name != "sqlite":
            return None
        # The pooled connection of this transaction: the aiosqlite adapter, then its sqlite3.
        inline = conn.sync_connection.connection.driver_connection
        return inline._conn  # type: ignore[no-any-return,union-attr]

    def _rows(self, dialect: Dialect, rows: Sequence[Mapping[str, Any]]
              ) -> tuple[str, list[tuple[Any, ...]]]:
        sql, order, literals = self._compile(dialect, tuple(rows[0]))
        values = []
        for row in rows:
            params = {**literals, **row} if literals else row
            values.append(tuple(params[name] if process is None else process(params[name])
                                for name, process in order))
        return sql, values

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any]) -> int:
        """Run the statement once; returns the new row's id (an INSERT) or the rows matched."""
        driver = self._driver(conn)
        if driver is None:
            result = await conn.execute(self.statement, dict(params))
            if self.statement.is_insert:
                return int(result.inserted_primary_key[0])
            return int(result.rowcount)
        sql, (values,) = self._rows(conn.dialect, [params])
        try:
            cursor = driver.execute(sql, values)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc
        return int(cursor.lastrowid if self.statement.is_insert else cursor.rowcount)

    async def executemany(self, conn: AsyncConnection,
                          rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement for each row (every row with the same keys)."""
        if not rows:
            return
        driver = self._driver(conn)
        if driver is None:
            await conn.execute(self.statement, [dict(row) for row in rows])
            return
        sql, values = self._rows(conn.dialect, rows)
        try:
            driver.executemany(sql, values)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(sql, values, exc, sqlite3.Error) from exc
