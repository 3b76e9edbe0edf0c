"""Commands answered from the running engine and process manager of this node.

``status type=workflows`` (running instances), ``status type=scheduler`` (once schedules run),
``statistics type=queue``, ``processmanager tail`` and ``launcher launch``. They are registered
into the hooks of :mod:`evqueue.api.tools` by :func:`install_engine_commands`, which the runner
calls once the engine runs.
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.api.tools import STATISTICS_TYPES, STATUS_TYPES
from evqueue.protocol import Command, InvalidParameter, Response, UnknownInstance

__all__ = ["PROCESS_MANAGER", "install_engine_commands", "routes"]

#: ``ctx.extras`` key of the node's ProcessManager.
PROCESS_MANAGER = "process_manager"

routes = CommandTable()
routes.admin_only("processmanager")

TAIL_KINDS = ("stdout", "stderr", "log")


async def status_workflows(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<status action="query" type="workflows" [limit]/>``: instances running here."""
    ctx.stats.workflow_status_queries += 1
    count, summaries = ctx.engine.status(cmd.get_int("limit", 0))
    visible = [s for s in summaries if _readable(ctx, session, s)]
    return Response.success({"count": str(count)}, payload=visible)


def _readable(ctx: ApiContext, session: Session, summary: etree._Element) -> bool:
    instance = ctx.engine.instance(int(summary.get("id", "0")))
    return instance is not None and session.user.can(instance.workflow_id, "read")


async def statistics_queue(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<statistics action="query" type="queue"/>``: load of every queue of this node."""
    element = etree.Element("statistics")
    for figures in ctx.engine.queue_statistics():
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
    manager = ctx.extras.get(PROCESS_MANAGER)
    if manager is None:
        raise UnknownInstance("No task runs on this node")
    from evqueue.process.errors import TaskOutputNotFound

    try:
        text = manager.tail(tid, kind)
    except TaskOutputNotFound:
        raise UnknownInstance(f"Unknown task ID : {tid}") from None
    return Response.success(payload=[text] if text else [])


def install_engine_commands(ctx: ApiContext) -> None:
    """Answer the engine-backed ``status`` and ``statistics`` types on this node."""
    ctx.extras.setdefault(STATUS_TYPES, {})["workflows"] = status_workflows
    ctx.extras.setdefault(STATISTICS_TYPES, {})["queue"] = statistics_queue
