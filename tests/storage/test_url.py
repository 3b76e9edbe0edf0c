"""Which database a URL or a configuration selects."""

from __future__ import annotations

import os

import pytest

from evqueue.storage.url import async_url, mysql_url, url_from_config


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///evqueue.db", "sqlite+aiosqlite:///evqueue.db"),
        ("sqlite:////var/lib/evqueue.db", "sqlite+aiosqlite:////var/lib/evqueue.db"),
        ("postgresql://u:p@db/evq", "postgresql+asyncpg://u:***@db/evq"),
        ("postgres://u@db/evq", "postgresql+asyncpg://u@db/evq"),
        ("postgresql+psycopg2://u@db/evq", "postgresql+asyncpg://u@db/evq"),
        ("mysql://root@db/evq", "mysql+aiomysql://root@db/evq"),
        ("mysql+pymysql://root@db/evq", "mysql+aiomysql://root@db/evq"),
        ("mariadb://root@db:3307/evq", "mariadb+aiomysql://root@db:3307/evq"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_async_url(url: str, expected: str) -> None:
    assert str(async_url(url)) == expected


@pytest.mark.parametrize("url", ["oracle://scott@db/orcl", "not a url"])
def test_unsupported_url(url: str) -> None:
    with pytest.raises(ValueError):
        async_url(url)


def test_default_is_sqlite_in_working_directory(tmp_path: os.PathLike[str]) -> None:
    url = url_from_config({"core.wd": str(tmp_path), "database.url": "", "mysql.user": ""})
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == os.path.join(tmp_path, "evqueue.db")


def test_default_without_working_directory_uses_cwd() -> None:
    url = url_from_config({})
    assert url.database == os.path.join(os.getcwd(), "evqueue.db")


def test_mysql_keys_select_mariadb() -> None:
    cfg = {
        "database.url": "", "mysql.host": "db1", "mysql.user": "evq",
        "mysql.password": "secret", "mysql.database": "queue",
    }
    url = url_from_config(cfg)
    assert (url.drivername, url.host, url.username, url.password, url.database) == (
        "mariadb+aiomysql", "db1", "evq", "secret", "queue",
    )


def test_mysql_localhost_uses_the_unix_socket(tmp_path: os.PathLike[str]) -> None:
    socket = os.path.join(tmp_path, "mysqld.sock")
    missing = os.path.join(tmp_path, "missing.sock")
    cfg = {"mysql.host": "localhost", "mysql.user": "evq"}
    assert mysql_url(cfg, sockets=[missing]).query == {}
    open(socket, "w").close()
    assert mysql_url(cfg, sockets=[missing, socket]).query == {"unix_socket": socket}
    cfg["mysql.host"] = "db1"
    assert mysql_url(cfg, sockets=[socket]).query == {}


def test_database_url_wins_and_relative_sqlite_is_under_wd(tmp_path: os.PathLike[str]) -> None:
    cfg = {"core.wd": str(tmp_path), "database.url": "sqlite:///data/q.db", "mysql.user": "x"}
    url = url_from_config(cfg)
    assert url.database == os.path.join(tmp_path, "data/q.db")
    cfg["database.url"] = "postgresql://evq@pg/evq"
    assert str(url_from_config(cfg)) == "postgresql+asyncpg://evq@pg/evq"
