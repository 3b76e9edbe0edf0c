"""The audit log: one t_log_api row per successful modifying command, when enabled."""

from __future__ import annotations

import pytest

from evqueue.api.audit import record_change
from evqueue.api.context import ApiContext, Services
from evqueue.api.dispatch import Dispatcher
from evqueue.api.session import Session, User
from evqueue.api.table import CommandTable
from evqueue.config import Config
from evqueue.engine.events import Event, EventBus, EventType
from evqueue.protocol import Command, InvalidParameter, Response
from evqueue.storage.logs import list_api_logs
from evqueue.storage.workflows import create_workflow

ALICE = Session(User(id=4, login="alice", profile="ADMIN"))

table = CommandTable()


@table.command("queue", "create", modifies=True)
async def _create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    if cmd.get_str("name") == "bad":
        raise InvalidParameter("bad name")
    return Response.success({"queue-id": 17})


@table.command("queue", "get")
async def _get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success()


@table.command("workflow", "delete", modifies=True)
@table.command("notification", "delete", modifies=True)
async def _delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success()


def context(db, enabled: str = "yes") -> ApiContext:
    return ApiContext(cfg=Config.from_mapping({"cluster.node.name": "node1",
                                               "loggerapi.enable": enabled}), db=db)


async def run(ctx: ApiContext, group: str, attrs: dict[str, str]) -> Response:
    dispatcher = Dispatcher([table], on_change=[record_change])
    return await dispatcher.dispatch(ctx, ALICE, Command.build(group, attrs))


async def rows(db) -> list[tuple]:
    return [(r.node_name, r.user_id, r.object_id, r.object_type, r.group, r.action)
            for r in reversed(await list_api_logs(db))]


async def test_successful_changes_are_recorded(db):
    ctx = context(db)
    workflow_id = await create_workflow(db, "sleeper", "<workflow/>")
    await run(ctx, "queue", {"action": "create", "name": "batch"})
    await run(ctx, "workflow", {"action": "delete", "id": "12"})
    await run(ctx, "workflow", {"action": "delete", "name": "sleeper"})
    assert await rows(db) == [
        ("node1", 4, 17, "Queue", "queue", "create"),
        ("node1", 4, 12, "Workflow", "workflow", "delete"),
        ("node1", 4, workflow_id, "Workflow", "workflow", "delete"),
    ]


async def test_failures_reads_and_unaudited_groups_are_not_recorded(db):
    ctx = context(db)
    response = await run(ctx, "queue", {"action": "create", "name": "bad"})
    assert response.error_code == "INVALID_PARAMETER"
    await run(ctx, "queue", {"action": "get", "id": "1"})
    await run(ctx, "notification", {"action": "delete", "id": "1"})
    assert await rows(db) == []


@pytest.mark.parametrize("enabled", ["no"])
async def test_nothing_is_recorded_when_disabled(db, enabled):
    await run(context(db, enabled), "queue", {"action": "create", "name": "batch"})
    assert await rows(db) == []


@pytest.mark.parametrize("enabled", ["yes", "no"])
async def test_each_row_written_publishes_log_api(db, enabled):
    ctx = context(db, enabled)
    bus, seen = EventBus(), []
    bus.subscribe(seen.append)
    ctx.services = Services(events=bus)
    await run(ctx, "queue", {"action": "create", "name": "batch"})
    await run(ctx, "queue", {"action": "create", "name": "bad"})
    await run(ctx, "notification", {"action": "delete", "id": "1"})
    assert seen == ([Event(EventType.LOG_API, 0)] if enabled == "yes" else [])
