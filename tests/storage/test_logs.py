"""Engine, API and notification logs."""

from __future__ import annotations

import datetime

import pytest

from evqueue.storage.database import Database
from evqueue.storage.logs import (
    LogRow,
    add_api_log,
    add_log,
    add_logs,
    add_notification_log,
    list_api_logs,
    list_logs,
    list_notification_logs,
)
from evqueue.storage.users import create_user

pytestmark = pytest.mark.backends

T0 = datetime.datetime(2024, 1, 10, 10, 0, 0)


def _at(minutes: int) -> datetime.datetime:
    return T0 + datetime.timedelta(minutes=minutes)


async def test_engine_log(db: Database) -> None:
    await add_log(db, "node1", 3, "error one", _at(0))
    await add_logs(db, [
        LogRow("node1", 6, "info", _at(1)),
        LogRow("node2", 4, "warning", _at(2)),
        LogRow("node2", 7, "debug", _at(2)),
    ])
    await add_logs(db, [])
    rows = await list_logs(db)
    assert [r.message for r in rows] == ["debug", "warning", "info", "error one"]
    assert rows[-1].timestamp == _at(0) and rows[-1].level == 3 and rows[-1].node_name == "node1"
    assert [r.message for r in await list_logs(db, max_level=4)] == ["warning", "error one"]
    assert [r.message for r in await list_logs(db, limit=2, offset=1)] == ["warning", "info"]
    assert [r.message for r in await list_logs(db, node_name="node1")] == ["info", "error one"]


async def test_api_log(db: Database) -> None:
    alice = await create_user(db, "alice", "pw")
    await add_api_log(db, "node1", alice, 12, "Workflow", "workflow", "edit", _at(0))
    await add_api_log(db, "node1", 999, 3, "Queue", "queue", "delete", _at(1))
    rows = await list_api_logs(db)
    assert [(r.user_login, r.object_type, r.action) for r in rows] == [
        (None, "Queue", "delete"), ("alice", "Workflow", "edit"),
    ]
    assert (rows[1].object_id, rows[1].group, rows[1].timestamp) == (12, "workflow", _at(0))
    assert len(await list_api_logs(db, limit=1)) == 1


async def test_notification_log(db: Database) -> None:
    await add_notification_log(db, "node1", 4242, "smtp refused", _at(0))
    await add_notification_log(db, "node2", 4243, "timeout", _at(5))
    rows = await list_notification_logs(db)
    assert [(r.pid, r.message, r.node_name) for r in rows] == [
        (4243, "timeout", "node2"), (4242, "smtp refused", "node1"),
    ]
    assert [r.pid for r in await list_notification_logs(db, node_name="node1")] == [4242]
