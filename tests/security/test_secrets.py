"""Secrets never show: not in ``status type=configuration``, the engine log, the store, errors.

A node is configured with a password in every key that takes one and an auth secret file;
users are created and logged in (also with wrong passwords). Then every place a secret could
leak to is searched for the literal values: the status answer (over TCP and websocket), the
engine log, the ``t_log`` table, and the bytes of the database files.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from evqueue.protocol import ApiError, new_secret
from tests.e2e.apiwire import answer
from tests.e2e.nodes import Node, wait_for
from tests.security.kit import client

PASSWORDS = {
    "mysql.password": "Sql-pw-4c6f91",
    "cluster.notify.password": "Notify-pw-77e2a0",
    "git.password": "Git-pw-0b1d5e",
    "elog.mysql.password": "Elog-pw-93aa10",
}
USER_PASSWORD = "User-pw-5d8c3b"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    directory = tmp_path_factory.mktemp("secrets")
    secret = new_secret()
    (directory / "auth.secret").write_text(secret + "\n")
    node = Node(directory, settings={**PASSWORDS, "core.auth.secret": "auth.secret",
                                     "logger.db.enable": "yes", "logger.db.filter": "LOG_DEBUG"})
    node.secret = secret
    node.start()
    try:
        with client(node) as admin:
            admin.exec(f"<user action='create' name='carol' password='{USER_PASSWORD}'"
                       " profile='USER'/>")
            admin.exec(f"<user action='change_password' name='carol' password='{USER_PASSWORD}'"
                       "/>")
            admin.exec("<control action='reload' module='all' notify='no'/>")
        with client(node, "carol", USER_PASSWORD) as carol:
            assert carol.profile == "USER"
        with pytest.raises(ApiError):
            client(node, "carol", PASSWORDS["git.password"])  # a wrong password, logged
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


def secrets_of(node: Node) -> list[str]:
    return [*PASSWORDS.values(), USER_PASSWORD, node.secret]


def test_status_masks_every_password(node):
    with client(node) as admin:
        entries = {e.get("name"): e.get("value")
                   for e in admin.exec("<status action='query' type='configuration'/>").iter(
                       "entry")}
    assert {key: entries[key] for key in PASSWORDS} == dict.fromkeys(PASSWORDS, "****")
    assert entries["core.auth.secret"].endswith("auth.secret"), "a path, not the secret"
    text = repr(entries)
    assert [s for s in secrets_of(node) if s in text] == []


async def test_status_over_websocket_masks_every_password(node):
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"ws://127.0.0.1:{node.ws_port}/", protocols=("api",)) as ws:
        challenge = (await ws.receive_str()).split('challenge="')[1].split('"')[0]
        await ws.send_str(f"<auth response='{answer(challenge, 'admin')}' user='admin'/>")
        assert "<ready" in await ws.receive_str()
        await ws.send_str("<status action='query' type='configuration'/>")
        reply = await ws.receive_str()
    assert "mysql.password" in reply
    assert [s for s in secrets_of(node) if s in reply] == []


def test_the_engine_log_holds_no_secret(node):
    log = node.output()
    assert "authentication failed for user 'carol'" in log  # the log does talk about logins
    assert [s for s in secrets_of(node) if s in log] == []


def test_the_store_holds_no_secret_in_clear(node):
    def logged() -> bool:  # the engine log reaches t_log in batches
        with contextlib.closing(sqlite3.connect(Path(node.directory) / "evqueue.db")) as db:
            return bool(db.execute("SELECT 1 FROM t_log WHERE log_message LIKE "
                                   "'%authentication failed for user ''carol''%'").fetchall())

    assert wait_for(logged, 10)
    data = b"".join(path.read_bytes() for path in Path(node.directory).glob("evqueue.db*"))
    assert [s for s in secrets_of(node) if s.encode() in data] == []


@pytest.mark.parametrize("url", ["postgresql://evq:Pg-pw-13579@127.0.0.1:1/evq",
                                 "mysql://evq:My-pw-24680@127.0.0.1:1/evq"])
def test_a_failed_start_does_not_print_the_database_password(tmp_path, url):
    node = Node(tmp_path / "nodb", db_url=url)
    result = node.run("--daemon")
    node.remove_ipc_queue()
    assert result.returncode == 1
    assert "database" in result.stderr
    assert url.split(":")[2].split("@")[0] not in result.stdout + result.stderr
