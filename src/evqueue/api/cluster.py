"""The ``cluster`` command group (ours): which nodes of the cluster are alive.

Rules:
- ``<cluster action="list"/>`` is open to every authenticated user (the web UI of any user
  needs it to reach every node). It answers one ``<node name api ws version started
  heartbeat/>`` per node of the registry (``t_node``) whose heartbeat is at most
  :data:`NODE_MAX_AGE` seconds old, sorted by name; ``api`` is the node's API connection string,
  ``ws`` its websocket URL, times are ``YYYY-MM-DD HH:MM:SS`` (the store's local time).
- :data:`~evqueue.storage.cluster.NODE_MAX_AGE` is what "alive" means for the whole cluster:
  the registry (:mod:`evqueue.cluster.registry`) refreshes heartbeats well within it.
- evQueue has no such command (clients there list nodes in their own configuration).
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import TIME_FORMAT, Command, Response
from evqueue.storage.cluster import NODE_MAX_AGE, list_nodes

__all__ = ["routes"]

routes = CommandTable()


@routes.command("cluster", "list")
async def list_cluster_nodes(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<cluster action="list"/>``: the live nodes."""
    rows = await list_nodes(ctx.db, max_age=NODE_MAX_AGE)
    nodes = [etree.Element("node", {
        "name": row.name, "api": row.api_url, "ws": row.ws_url, "version": row.version,
        "started": row.started_at.strftime(TIME_FORMAT),
        "heartbeat": row.heartbeat.strftime(TIME_FORMAT)}) for row in rows]
    return Response.success(payload=nodes)
