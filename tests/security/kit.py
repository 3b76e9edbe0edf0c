"""Helpers of the security tests: real nodes, logged-in clients, the routes served, snapshots.

Rules:
- Nodes are the end-to-end ones (:class:`tests.e2e.nodes.Node`): a real ``evqueue`` process in
  a temporary directory, reached over its unix socket or 127.0.0.1.
- :func:`served_routes` finds every command table of ``evqueue.api`` by walking the package,
  so a command group added later is fuzzed and rights-checked without editing these tests.
- :func:`snapshot` reads every table of a node's SQLite store except the ones that change on
  their own (logs, heartbeats, elections), to prove that a request changed nothing.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import pkgutil
import sqlite3
from pathlib import Path

import evqueue.api
from evqueue.api.dispatch import ANY_ACTION
from evqueue.api.table import CommandTable
from evqueue.client.sync import Client
from tests.e2e.nodes import Node

__all__ = [
    "VOLATILE_TABLES",
    "b64",
    "client",
    "served_routes",
    "snapshot",
    "task_script",
]

#: Tables written by the node itself whatever the requests (logs, registry, elections).
VOLATILE_TABLES = frozenset({"t_log", "t_log_api", "t_log_notifications", "t_node",
                             "t_uniqueaction", "t_schedule_fire", "sqlite_sequence"})


def b64(text: str) -> str:
    """base64 of UTF-8 text, as ``content`` attributes carry definitions."""
    return base64.b64encode(text.encode()).decode()


def client(node: Node, user: str = "admin", password: str = "admin",
           transport: str = "unix") -> Client:
    """A logged-in client of ``node``."""
    address = (f"unix://{node.socket_path}" if transport == "unix"
               else f"tcp://127.0.0.1:{node.api_port}")
    return Client(address, user, password, timeout=30).connect()


def served_routes() -> list[tuple[str, str | None]]:
    """Every (group, action) registered by a module of ``evqueue.api``, sorted.

    The catch-all action of a group (``ping``) is listed as None.
    """
    found: set[tuple[str, str | None]] = set()
    for info in pkgutil.iter_modules(evqueue.api.__path__):
        module = importlib.import_module(f"evqueue.api.{info.name}")
        table = getattr(module, "routes", None)
        if isinstance(table, CommandTable):
            found |= {(r.group, None if r.action == ANY_ACTION else r.action)
                      for r in table.routes}
    return sorted(found, key=lambda route: (route[0], route[1] or ""))


def snapshot(node: Node) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every non-volatile table of the node's SQLite store."""
    path = Path(node.directory) / "evqueue.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        tables = [row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {table: sorted(db.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
                for table in tables if table not in VOLATILE_TABLES}


def task_script(directory: Path, name: str, body: str) -> Path:
    """Write an executable ``/bin/sh`` script and return its path."""
    path = Path(directory) / name
    path.write_text("#!/bin/sh\n" + body.strip("\n") + "\n")
    path.chmod(0o755)
    return path
