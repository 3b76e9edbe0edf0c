"""Connections to a database server across the network: bounded waits when the network fails.

Rules:

* Opening a connection to PostgreSQL or MariaDB gives up after :data:`CONNECT_TIMEOUT`
  seconds (the drivers wait 60 s), so that a transaction retried while the server cannot be
  reached fails in a bounded time (retry policy in :mod:`evqueue.storage.transactions`).
* An open TCP connection whose packets go unacknowledged for :data:`DEAD_LINK_TIMEOUT`
  seconds is closed by the kernel (``TCP_USER_TIMEOUT``), and keepalive probes make the same
  hold while it only waits for an answer. A link cut silently (a firewall that drops, a
  cable, a machine gone) is then noticed in that time instead of after TCP's retransmissions
  (about 15 minutes on Linux), during which every caller of the store would wait. A slow
  statement is not concerned: the server's kernel acknowledges the request at once, whatever
  the time the answer takes.
* A PostgreSQL session idle inside a transaction for :data:`DEAD_LINK_TIMEOUT` seconds is
  ended by the server (``idle_in_transaction_session_timeout``): a node lost between two
  statements of a transaction (between the INSERT of a schedule's claim and its COMMIT, say)
  would otherwise keep its row locks, and every other node waiting on them, until the server
  notices the dead client (its TCP keepalive: two hours by default). evqueue's transactions
  never wait between their statements.
* Connections over a unix socket, and SQLite, are left alone.
"""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["CONNECT_TIMEOUT", "DEAD_LINK_TIMEOUT", "connect_args", "tcp_socket",
           "watch_dead_links"]

#: Seconds allowed to open a connection to a database server.
CONNECT_TIMEOUT = 5.0
#: Seconds after which a connection whose packets go unanswered is closed.
DEAD_LINK_TIMEOUT = 10.0
# Keepalive: the first probe after this many idle seconds, then one a second.
_KEEPALIVE_IDLE = 5
_KEEPALIVE_INTERVAL = 1


def connect_args(backend: str) -> dict[str, Any]:
    """The driver's arguments for ``backend``: the time to connect, and for PostgreSQL the
    session's idle-in-transaction limit."""
    if backend == "postgresql":  # asyncpg
        idle = str(int(DEAD_LINK_TIMEOUT * 1000))
        return {"timeout": CONNECT_TIMEOUT,
                "server_settings": {"idle_in_transaction_session_timeout": idle}}
    if backend in ("mysql", "mariadb"):
        return {"connect_timeout": CONNECT_TIMEOUT}  # aiomysql
    return {}


def tcp_socket(driver_connection: Any) -> socket.socket | None:
    """The TCP socket of an asyncpg or aiomysql connection (None over a unix socket).

    Neither driver offers its socket otherwise: asyncpg keeps its transport in
    ``_transport``, aiomysql its stream writer in ``_writer``.
    """
    transport = getattr(driver_connection, "_transport", None)
    if transport is None:
        transport = getattr(getattr(driver_connection, "_writer", None), "transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    return sock


def _watch(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, _KEEPALIVE_IDLE)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, _KEEPALIVE_INTERVAL)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT,
                    int(DEAD_LINK_TIMEOUT - _KEEPALIVE_IDLE) // _KEEPALIVE_INTERVAL)
    if hasattr(socket, "TCP_USER_TIMEOUT"):  # Linux
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT,
                        int(DEAD_LINK_TIMEOUT * 1000))


def watch_dead_links(engine: AsyncEngine) -> None:
    """Give every new TCP connection of ``engine`` the dead-link timeout."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        sock = tcp_socket(dbapi_connection.driver_connection)
        if sock is not None:
            _watch(sock)
