"""Exceptions raised by the storage layer.

Callers of the storage verbs catch these and never a driver's own exception: every
SQLAlchemy or DBAPI error that leaves a verb has been translated into one of them, with the
original error kept as ``__cause__``.

Class tree::

    StorageError                 any database failure (the API answers SQL_ERROR)
    ├── DuplicateName            a unique or primary key constraint was violated
    ├── DatabaseUnavailable      the server cannot be reached (after the retries)
    └── SchemaError              the database schema is newer than this code, or unusable
"""

from __future__ import annotations

__all__ = ["DatabaseUnavailable", "DuplicateName", "SchemaError", "StorageError"]


class StorageError(Exception):
    """A database operation failed."""


class DuplicateName(StorageError):
    """A row would duplicate a unique name or key (queue name, user login, tag label, ...)."""


class DatabaseUnavailable(StorageError):
    """The database server could not be reached."""


class SchemaError(StorageError):
    """The database schema cannot be used by this version."""
