"""``<status action="query" type="scheduler"/>``: the workflow scheduler of this node.

Rules (protocol.md §4.3):

- ADMIN only.
- Reply: ``<status>`` holding ``<workflow workflow_schedule_id name
  scheduled_at="YYYY-MM-DD HH:MM:SS"/>`` per waiting schedule, by due time, then
  ``<workflow workflow_schedule_id name workflow_instance_id scheduled_at="running"/>`` per
  schedule whose run is in progress on this node.
- Routed by :mod:`evqueue.api.tools`; where no scheduler runs (``ctx.services`` has none) the
  type is UNKNOWN_TYPE, for every user.
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.protocol import TIME_FORMAT, Command, Response, UnknownType
from evqueue.services.scheduler import ScheduleStatus

__all__ = ["scheduler_element", "status_scheduler"]


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
    scheduler = ctx.services.scheduler
    if scheduler is None:
        raise UnknownType()
    session.require_admin()
    ctx.stats.statistics_queries += 1
    return Response.success(payload=[scheduler_element(scheduler.status())])
