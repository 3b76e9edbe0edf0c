"""``<status action="query" type="scheduler"/>``: the workflow scheduler of this node.

Rules (protocol.md §4.3):

- ADMIN only.
- Reply: ``<status>`` holding ``<workflow workflow_schedule_id name
  scheduled_at="YYYY-MM-DD HH:MM:SS"/>`` per waiting schedule, by due time, then
  ``<workflow workflow_schedule_id name workflow_instance_id scheduled_at="running"/>`` per
  schedule whose run is in progress on this node.
- :func:`install_scheduler_status` registers the handler in the ``status`` hook of
  :mod:`evqueue.api.tools`; the runner calls it once the scheduler runs.
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.tools import STATUS_TYPES
from evqueue.protocol import TIME_FORMAT, Command, Response
from evqueue.services.scheduler import Scheduler, ScheduleStatus

__all__ = ["SCHEDULER", "install_scheduler_status", "scheduler_element", "status_scheduler"]

#: ``ctx.extras`` key of the node's :class:`~evqueue.services.scheduler.Scheduler`.
SCHEDULER = "scheduler"


def scheduler_element(rows: list[ScheduleStatus]) -> etree._Element:
    """The ``<status>`` element for these status lines."""
    status = etree.Element("status")
    for row in rows:
        node = etree.SubElement(status, "workflow")
        node.set("workflow_schedule_id", str(row.schedule_id))
        node.set("name", row.name)
        if row.instance_id is not None:
            node.set("workflow_instance_id", str(row.instance_id))
            node.set("scheduled_at", "running")
        elif row.scheduled_at is not None:
            node.set("scheduled_at", row.scheduled_at.strftime(TIME_FORMAT))
    return status


async def status_scheduler(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<status action="query" type="scheduler"/>`` (admin)."""
    session.require_admin()
    ctx.stats.statistics_queries += 1
    scheduler: Scheduler | None = ctx.extras.get(SCHEDULER)
    rows = scheduler.status() if scheduler is not None else []
    return Response.success(payload=[scheduler_element(rows)])


def install_scheduler_status(ctx: ApiContext, scheduler: Scheduler) -> None:
    """Answer ``status type=scheduler`` from ``scheduler`` on this node."""
    ctx.extras[SCHEDULER] = scheduler
    ctx.extras.setdefault(STATUS_TYPES, {})["scheduler"] = status_scheduler
