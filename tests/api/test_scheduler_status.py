"""``<status action="query" type="scheduler"/>``: the reply evQueue's clients read."""

from __future__ import annotations

import datetime

from evqueue.api import tools
from evqueue.api.context import Services
from evqueue.services.scheduler import ScheduleStatus
from tests.api.helpers import Api, plain_user

LINES = [
    ScheduleStatus(3, "backup", datetime.datetime(2024, 1, 10, 2, 30)),
    ScheduleStatus(1, "report", None, 77),
]


class FakeScheduler:
    def status(self) -> list[ScheduleStatus]:
        return LINES


async def test_the_reply_lists_waiting_then_running_schedules(db) -> None:
    api = Api(db, [tools])
    api.ctx.services = Services(scheduler=FakeScheduler())  # type: ignore[arg-type]
    assert await api.raw("<status action='query' type='scheduler'/>") == (
        b'<response node="node1" status="OK"><status>'
        b'<workflow name="backup" scheduled_at="2024-01-10 02:30:00" workflow_schedule_id="3"/>'
        b'<workflow name="report" scheduled_at="running" workflow_instance_id="77" '
        b'workflow_schedule_id="1"/></status></response>')


async def test_only_admins_may_ask(db) -> None:
    api = Api(db, [tools])
    api.ctx.services = Services(scheduler=FakeScheduler())  # type: ignore[arg-type]
    await api.ko("<status action='query' type='scheduler'/>", "INSUFFICIENT_RIGHTS",
                 as_user=plain_user())


async def test_without_a_scheduler_the_type_is_unknown(db) -> None:
    api = Api(db, [tools])
    await api.ko("<status action='query' type='scheduler'/>", "UNKNOWN_TYPE")
