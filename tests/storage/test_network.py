"""Connections to a database server across TCP notice a dead link in bounded time, at both
ends."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy import text

from evqueue.storage.database import Database
from evqueue.storage.network import DEAD_LINK_TIMEOUT, tcp_socket
from tests.dbfixtures import fresh_database_url


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
async def test_a_tcp_connection_to_the_server_is_given_up_when_its_link_is_dead(
        backend: str, tmp_path: Path) -> None:
    async with fresh_database_url(backend, str(tmp_path)) as url:
        database = await Database.open(url)
        try:
            async with database.engine.connect() as conn:
                assert (await conn.execute(text("SELECT 1"))).scalar() == 1
                raw = await conn.get_raw_connection()
                sock = tcp_socket(raw.driver_connection)
                assert sock is not None
                assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == \
                    DEAD_LINK_TIMEOUT * 1000
                if backend == "postgresql":  # the server ends a session lost mid-transaction
                    idle = await conn.execute(text("SHOW idle_in_transaction_session_timeout"))
                    assert idle.scalar() == f"{DEAD_LINK_TIMEOUT:g}s"
        finally:
            await database.close()

