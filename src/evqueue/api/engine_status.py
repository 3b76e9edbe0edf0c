"""Commands answered from the running engine and process manager of this node.

``status type=workflows`` (running instances), ``statistics type=queue`` (both routed by
:mod:`evqueue.api.tools`) and ``processmanager tail``. Where no engine runs (``ctx.services``
has none), the two query types are UNKNOWN_TYPE, as any type this node does not serve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import Command, InvalidParameter, Response, UnknownInstance, UnknownType

if TYPE_CHECKING:
    from evqueue.engine.engine import Engine

__all__ = ["routes", "statistics_queue", "status_workflows"]

routes = CommandTable()
routes.admin_only("processmanager")

TAIL_KINDS = ("stdout", "stderr", "log")


async def status_workflows(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<status action="query" type="workflows" [limit]/>``: instances running here."""
    engine = ctx.services.engine
    if engine is None:
        raise UnknownType()
    ctx.stats.workflow_status_queries += 1
    count, summaries = engine.status(cmd.get_int("limit", 0))
    visible = [s for s in summaries if _readable(engine, session, s)]
    return Response.success({"count": str(count)}, payload=visible)


def _readable(engine: Engine, session: Session, summary: etree._Element) -> bool:
    instance = engine.instance(int(summary.get("id", "0")))
    return instance is not None and session.user.can(instance.workflow_id, "read")


async def statistics_queue(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<statistics action="query" type="queue"/>``: load of every queue of this node."""
    engine = ctx.services.engine
    if engine is None:
        raise UnknownType("Unknown statistics type")
    ctx.stats.statistics_queries += 1
    element = etree.Element("statistics")
    for figures in engine.queue_statistics():
        etree.SubElement(element, "queue", {
            "name": figures.name, "concurrency": str(figures.concurrency),
            "size": str(figures.size), "running_tasks": str(figures.running_tasks),
            "scheduler": figures.scheduler})
    return Response.success(payload=[element])


@routes.command("processmanager", "tail")
async def tail(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<processmanager action="tail" tid= type="stdout|stderr|log"/>``: live task output."""
    tid = cmd.get_int("tid")
    kind = cmd.get_str("type", "stdout")
    if kind not in TAIL_KINDS:
        raise InvalidParameter("type must be stdout, stderr or log")
    manager = ctx.services.processes
    if manager is None:
        raise UnknownInstance("No task runs on this node")
    from evqueue.process.errors import TaskOutputNotFound

    try:
        text = manager.tail(tid, kind)
    except TaskOutputNotFound:
        raise UnknownInstance(f"Unknown task ID : {tid}") from None
    return Response.success(payload=[text] if text else [])
