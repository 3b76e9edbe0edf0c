"""Which database to open: URL mapping and the configuration rules.

Rules:

* A URL may name any backend the user knows (``sqlite:///x.db``, ``postgresql://``,
  ``postgres://``, ``mysql://``, ``mariadb://``, with or without a sync driver such as
  ``+psycopg2`` or ``+pymysql``); it is mapped onto the asyncio driver we ship for that
  backend: aiosqlite, asyncpg or aiomysql.
* From the configuration: ``database.url`` when set (a relative SQLite path is taken relative
  to ``core.wd``); else, when ``mysql.user`` is set, MariaDB/MySQL from ``mysql.host``,
  ``mysql.user``, ``mysql.password`` and ``mysql.database`` as in evQueue configs (host
  ``localhost`` means the server's unix socket, as for the MySQL client library, when one of
  ``MYSQL_SOCKETS`` exists); else the SQLite file ``evqueue.db`` in ``core.wd`` (or the
  current directory).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy.engine import URL, make_url

__all__ = ["MYSQL_SOCKETS", "ConfigLike", "async_url", "mysql_url", "url_from_config"]

_ASYNC_DRIVERS = {
    "sqlite": "aiosqlite",
    "postgresql": "asyncpg",
    "mysql": "aiomysql",
    "mariadb": "aiomysql",
}
_BACKEND_ALIASES = {"postgres": "postgresql"}

#: Where MariaDB/MySQL servers usually put their socket (the client library's defaults).
MYSQL_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock", "/tmp/mysql.sock")


class ConfigLike(Protocol):
    """What the storage layer reads from a configuration: ``cfg["key"]``."""

    def __getitem__(self, key: str) -> Any: ...


def async_url(url: str | URL) -> URL:
    """Map a SQLAlchemy URL onto the asyncio driver of its backend.

    Args:
        url: A URL such as ``sqlite:///evqueue.db`` or ``postgresql://user@host/db``.

    Returns:
        The same URL with the driver replaced, e.g. ``postgresql+asyncpg://user@host/db``.

    Raises:
        ValueError: The URL is malformed or names an unsupported backend.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError for junk
        raise ValueError(f"invalid database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    backend = _BACKEND_ALIASES.get(backend, backend)
    driver = _ASYNC_DRIVERS.get(backend)
    if driver is None:
        raise ValueError(
            f"unsupported database backend {backend!r}: use sqlite, postgresql or mariadb/mysql"
        )
    return parsed.set(drivername=f"{backend}+{driver}")


def _get(cfg: ConfigLike, key: str, default: Any = "") -> Any:
    try:
        value = cfg[key]
    except KeyError:
        return default
    return default if value is None else value


def _working_directory(cfg: ConfigLike) -> str:
    # evqueue.config.Config fixes a relative core.wd against the start directory (``wd``), so
    # the path stays right after the engine's chdir(core.wd).
    absolute = getattr(cfg, "wd", None)
    if isinstance(absolute, str) and absolute:
        return absolute
    return os.path.abspath(str(_get(cfg, "core.wd")) or os.getcwd())


def url_from_config(cfg: ConfigLike) -> URL:
    """The database URL selected by a configuration (see the module rules).

    Args:
        cfg: The engine configuration (``database.url``, ``mysql.*``, ``core.wd``).

    Returns:
        An asyncio SQLAlchemy URL.
    """
    configured = str(_get(cfg, "database.url"))
    if configured:
        url = async_url(configured)
        database = url.database or ""
        if url.get_backend_name() == "sqlite" and database and database != ":memory:":
            if not os.path.isabs(database):
                url = url.set(database=os.path.join(_working_directory(cfg), database))
        return url
    if str(_get(cfg, "mysql.user")):
        return mysql_url(cfg)
    path = os.path.join(_working_directory(cfg), "evqueue.db")
    return URL.create("sqlite+aiosqlite", database=path)


def mysql_url(cfg: ConfigLike, sockets: Sequence[str] = MYSQL_SOCKETS) -> URL:
    """The MariaDB/MySQL URL of evQueue's ``mysql.*`` keys.

    Args:
        cfg: The configuration.
        sockets: Unix socket paths tried, in order, when the host is ``localhost``.
    """
    host = str(_get(cfg, "mysql.host", "localhost")) or "localhost"
    query: dict[str, str] = {}
    if host == "localhost":
        socket = next((path for path in sockets if os.path.exists(path)), None)
        if socket is not None:
            query["unix_socket"] = socket
    return URL.create(
        "mariadb+aiomysql",
        username=str(_get(cfg, "mysql.user")),
        password=str(_get(cfg, "mysql.password")) or None,
        host=host,
        database=str(_get(cfg, "mysql.database", "evqueue")) or "evqueue",
        query=query,
    )
