"""This node's entry in the cluster's node registry (``t_node``), kept alive by heartbeats.

Rules:
- :meth:`NodeRegistry.join` runs at start-up, before the node listens or resumes anything: it
  refuses to start (:class:`NodeNameInUse`) when the registry holds a LIVE node of the same
  ``cluster.node.name`` — a heartbeat younger than
  :data:`~evqueue.storage.cluster.NODE_MAX_AGE` AND an API address that still answers with that
  name (or that cannot be proved dead: a timeout counts as alive). A row left by a crash of
  this very node (nobody listens at its address any more, or someone else does) is taken over,
  so a node restarts at once after ``kill -9``.
- The row holds the name, the API connection string (the unix socket when there is one, else
  TCP), the websocket URL, the version and the start time. At join the addresses come from the
  configuration; :meth:`NodeRegistry.publish` replaces them with the bound ones once the
  listeners run (a port 0 becomes the real port).
- A heartbeat every :data:`HEARTBEAT_INTERVAL` seconds; a heartbeat that finds the row gone
  (deleted by an operator) registers again. A failing database is logged, never fatal.
- :meth:`NodeRegistry.leave` stops the heartbeats and removes the row (clean shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Protocol

from evqueue import EVQUEUE_VERSION
from evqueue.cluster.peer import Peer, PeerTimeouts, nobody_listens
from evqueue.config import Config
from evqueue.protocol import ApiError, ProtocolError
from evqueue.storage.cluster import (
    NODE_MAX_AGE,
    NodeRow,
    heartbeat,
    list_nodes,
    register_node,
    unregister_node,
)
from evqueue.storage.database import Database
from evqueue.storage.timeutil import local_now

__all__ = [
    "HEARTBEAT_INTERVAL",
    "ApiListener",
    "NodeNameInUse",
    "NodeRegistry",
    "WsListener",
    "api_connection_string",
    "ws_url",
]

log = logging.getLogger("evqueue.cluster")

#: Seconds between two heartbeats (well within NODE_MAX_AGE).
HEARTBEAT_INTERVAL = 5.0
#: Longest node name the registry and the instance tables hold.
MAX_NODE_NAME = 32
#: Seconds allowed to ask a registered node for its name at start-up.
PROBE_TIMEOUT = 3.0


class NodeNameInUse(Exception):
    """Another running node already uses this ``cluster.node.name``."""


class ApiListener(Protocol):
    """What the registry reads from the running XML API server."""

    unix_path: str | None
    tcp_address: tuple[str, int] | None


class WsListener(Protocol):
    """What the registry reads from the running websocket server."""

    @property
    def url(self) -> str | None: ...


def _tcp_host(host: str) -> str:
    """A host others can use: a wildcard bind address becomes this machine's name."""
    if host in ("*", "0.0.0.0", "::", ""):
        return socket.getfqdn()
    return f"[{host}]" if ":" in host else host


def api_connection_string(cfg: Config, api: ApiListener | None = None) -> str:
    """How other nodes reach this node's API: ``unix://path`` if any, else ``tcp://host:port``
    ("" when the node serves no API). Bound addresses of ``api`` win over the configuration."""
    if api is not None and api.unix_path:
        return f"unix://{api.unix_path}"
    if api is not None and api.tcp_address:
        host, port = api.tcp_address
        return f"tcp://{_tcp_host(host)}:{port}"
    if cfg["network.bind.path"]:
        return f"unix://{cfg.path('network.bind.path')}"
    if cfg["network.bind.ip"]:
        return f"tcp://{_tcp_host(cfg['network.bind.ip'])}:{cfg['network.bind.port']}"
    return ""


def ws_url(cfg: Config, ws: WsListener | None = None) -> str:
    """This node's websocket URL ("" when it serves none); the bound one of ``ws`` wins."""
    if ws is not None and ws.url:
        return ws.url
    ip = cfg["ws.bind.ip"]
    if not ip:
        return ""
    scheme = "wss" if cfg["ws.ssl.crt"] else "ws"
    host = "0.0.0.0" if ip == "*" else (f"[{ip}]" if ":" in ip else ip)
    return f"{scheme}://{host}:{cfg['ws.bind.port']}/"


class NodeRegistry:
    """This node's row in ``t_node``.

    Args:
        db: the shared store.
        cfg: the node's configuration (name, listeners, ``cluster.*.timeout``).
        interval: seconds between heartbeats.
        version: the version recorded for the node.
    """

    def __init__(self, db: Database, cfg: Config, *, interval: float = HEARTBEAT_INTERVAL,
                 version: str = EVQUEUE_VERSION) -> None:
        self.db = db
        self.cfg = cfg
        self.name: str = cfg.node_name
        self.interval = interval
        self.version = version
        self.api_url = api_connection_string(cfg)
        self.ws_url = ws_url(cfg)
        self.started = local_now()
        #: set after every heartbeat written (tests and health checks await it)
        self.beat = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # the cluster's timeouts, but never long: start-up waits for this answer
        configured = PeerTimeouts.from_config(cfg)
        self._probe_timeouts = PeerTimeouts(*(
            min(value or PROBE_TIMEOUT, PROBE_TIMEOUT)
            for value in (configured.connect, configured.receive, configured.send)))

    async def join(self) -> None:
        """Check that no live node has our name, register, start the heartbeats.

        Raises:
            NodeNameInUse: a running node already uses ``cluster.node.name``.
            ValueError: the name is empty or longer than the registry holds.
        """
        if not self.name or len(self.name) > MAX_NODE_NAME:
            raise ValueError(f"cluster.node.name '{self.name}' must be 1 to {MAX_NODE_NAME} "
                             "characters long")
        for row in await list_nodes(self.db, max_age=NODE_MAX_AGE):
            if row.name == self.name and await self._answers_as_us(row):
                raise NodeNameInUse(
                    f"cluster.node.name '{self.name}' is already used by a running node (API "
                    f"{row.api_url or 'none'}, started {row.started_at}, last heartbeat "
                    f"{row.heartbeat}): give this node another name, or stop that one first")
        await self._register()
        self._task = asyncio.get_running_loop().create_task(self._heartbeats(),
                                                             name="cluster-heartbeat")
        log.log(25, "cluster: node %s registered (API %s, websocket %s)", self.name,
                self.api_url or "none", self.ws_url or "none")

    async def publish(self, api: ApiListener | None = None, ws: WsListener | None = None) -> None:
        """Record the addresses the listeners are bound to, if they differ from the row's."""
        api_url, url = api_connection_string(self.cfg, api), ws_url(self.cfg, ws)
        if (api_url, url) != (self.api_url, self.ws_url):
            self.api_url, self.ws_url = api_url, url
            await self._register()

    async def leave(self) -> None:
        """Stop the heartbeats and remove this node from the registry."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await unregister_node(self.db, self.name)
        except Exception as exc:  # the node is stopping anyway; its row will just age out
            log.warning("cluster: could not unregister node %s: %s", self.name, exc)

    async def _register(self) -> None:
        await register_node(self.db, self.name, self.api_url, self.ws_url, self.version,
                            now=self.started)
        await heartbeat(self.db, self.name)

    async def _heartbeats(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += self.interval
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            try:
                if not await heartbeat(self.db, self.name):
                    log.warning("cluster: node %s was missing from the registry: registered "
                                "again", self.name)
                    await self._register()
            except Exception as exc:  # a database outage must not stop the node
                log.warning("cluster: heartbeat of node %s failed: %s", self.name, exc)
                continue
            self.beat.set()
            self.beat.clear()

    async def _answers_as_us(self, row: NodeRow) -> bool:
        """Whether the node registered in ``row`` still runs: its API answers with our name, or
        cannot be proved dead."""
        if not row.api_url:
            return True  # nothing to ask: trust the fresh heartbeat
        try:
            async with Peer(row.api_url, timeouts=self._probe_timeouts) as peer:
                return peer.node == self.name
        except (OSError, TimeoutError, ApiError, ProtocolError) as exc:
            if nobody_listens(exc):
                log.log(25, "cluster: taking over the registry entry of node %s (nobody "
                        "listens at %s any more)", self.name, row.api_url)
                return False
            return True
