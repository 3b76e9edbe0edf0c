"""Which database errors are retried, and how driver errors become storage errors.

Retry policy (applied by ``Database.read``/``Database.write`` to a whole transaction):

* A unit of work is one transaction. When it fails with a *transient* error it is rolled back
  and run again from the start, at most ``MAX_ATTEMPTS`` times in all, sleeping
  ``BASE_DELAY * 2**n`` seconds (capped at ``MAX_DELAY``) between tries.
* Transient means the same work may succeed a moment later: the connection was lost or
  invalidated, a deadlock was detected (MariaDB 1213, PostgreSQL 40P01), a lock wait timed
  out (MariaDB 1205, PostgreSQL 55P03), a serialization failure (PostgreSQL 40001), the
  server went away or refused the connection (MariaDB 2002/2003/2006/2013, PostgreSQL 08xxx,
  57P01-57P03), SQLite's ``SQLITE_BUSY``/``SQLITE_LOCKED``.
* Never retried: constraint violations (a unique violation becomes ``DuplicateName``),
  syntax or data errors, and any exception the unit of work raises itself.
* After the last try, connection failures become ``DatabaseUnavailable`` and every other
  database error ``StorageError``; the driver error stays attached as ``__cause__``.

The engine's own savepoint retry (``workflowinstance.savepoint.retry.*``) wraps verbs from
outside and is not this module's business.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from evqueue.storage.errors import DatabaseUnavailable, DuplicateName, StorageError

__all__ = [
    "BASE_DELAY",
    "MAX_ATTEMPTS",
    "MAX_DELAY",
    "backoff",
    "is_transient",
    "is_unique_violation",
    "translate",
]

MAX_ATTEMPTS = 5
BASE_DELAY = 0.05
MAX_DELAY = 1.0

_MYSQL_UNIQUE = {1062, 1586}
_MYSQL_TRANSIENT = {1205, 1213}
_MYSQL_CONNECTION = {2002, 2003, 2006, 2013, 2055}
_PG_TRANSIENT = {"40001", "40P01", "55P03"}
_PG_CONNECTION_PREFIXES = ("08", "57P0")
_SQLITE_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_SQLITE_UNIQUE_CODES = {1555, 2067}  # SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code is None and orig is not None:
        code = getattr(orig.__cause__, "sqlstate", None)
    return str(code) if code else None


def _mysql_errno(exc: DBAPIError) -> int | None:
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0]
    return None


def _sqlite_code(exc: DBAPIError) -> int | None:
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code if isinstance(code, int) else None


def is_unique_violation(exc: DBAPIError) -> bool:
    """Whether ``exc`` reports a violated unique or primary key constraint."""
    if _sqlstate(exc) == "23505" or _mysql_errno(exc) in _MYSQL_UNIQUE:
        return True
    if _sqlite_code(exc) in _SQLITE_UNIQUE_CODES:
        return True
    return "UNIQUE constraint failed" in str(exc.orig)


def _is_connection_error(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    state = _sqlstate(exc)
    if state is not None and state.startswith(_PG_CONNECTION_PREFIXES):
        return True
    if _mysql_errno(exc) in _MYSQL_CONNECTION:
        return True
    # asyncpg raises OSError subclasses (refused, reset) wrapped as DBAPIError
    return isinstance(exc.orig, OSError) or isinstance(exc.orig.__cause__, OSError)


def is_transient(exc: DBAPIError) -> bool:
    """Whether the transaction that raised ``exc`` may succeed if run again."""
    if _is_connection_error(exc):
        return True
    if _sqlstate(exc) in _PG_TRANSIENT or _mysql_errno(exc) in _MYSQL_TRANSIENT:
        return True
    code = _sqlite_code(exc)
    if code is not None:
        return code & 0xFF in _SQLITE_BUSY_CODES
    return "database is locked" in str(exc.orig)


def translate(exc: SQLAlchemyError) -> StorageError:
    """The storage error to raise for a database error (the caller chains ``from exc``)."""
    if isinstance(exc, DBAPIError):
        message = str(exc.orig) if exc.orig is not None else str(exc)
        if is_unique_violation(exc):
            return DuplicateName(f"duplicate entry: {message}")
        if _is_connection_error(exc):
            return DatabaseUnavailable(f"database unavailable: {message}")
        return StorageError(message)
    return StorageError(str(exc))


def backoff(attempt: int) -> float:
    """Seconds to sleep before try number ``attempt + 1`` (``attempt`` counts from 0)."""
    return float(min(MAX_DELAY, BASE_DELAY * (2**attempt)))
