"""Storage: evQueue 3.3's database schema and the narrow verbs the engine and API call.

SQLAlchemy Core (asyncio) lives only in this package; callers never build SQL. Open a
database with ``await Database.open(url)`` or ``await Database.from_config(cfg)``, then
``await schema.create_schema(db)``. Every verb is a module-level ``async def verb(db, ...)``
running one transaction; verbs return frozen dataclasses (``…Row``), plain values
(ids, bools, counts) or tuples of ``(name, value)`` pairs, never SQLAlchemy rows. Errors are
``evqueue.storage.errors`` classes (``DuplicateName`` for unique violations).

Modules, bottom first:

- ``tables``: the ``MetaData``; ``url``: which database; ``transactions``: which failed
  transactions are run again; ``timeutil``: how times are stored; ``sqlite_driver``: SQLite
  calls on the loop's thread; ``database``: ``Database``; ``schema``: creation.
- Definitions: ``workflows``, ``queues``, ``users`` (rights, module rights, preferences),
  ``tags``, ``retry_schedules``, ``workflow_schedules``, ``notifications``.
- Instances: ``instances`` (rows, savepoints, parameters, custom attributes, tags),
  ``instance_history`` (the ``instances list`` query), ``datastore``.
- Others: ``logs``, ``cluster`` (node registry, elections, schedule fires),
  ``storage_module`` (variables, launchers, displays), ``gc`` (purges).
"""

from evqueue.storage.database import Database
from evqueue.storage.errors import DatabaseUnavailable, DuplicateName, SchemaError, StorageError

__all__ = ["Database", "DatabaseUnavailable", "DuplicateName", "SchemaError", "StorageError"]
