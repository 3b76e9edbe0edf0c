"""The three log lists: rows, paging, filters, object names of audited changes."""

from __future__ import annotations

from datetime import datetime

import pytest
from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.logs import routes
from evqueue.api.session import Session, User
from evqueue.config import Config
from evqueue.protocol import Command, serialize
from evqueue.storage import logs as store
from evqueue.storage.queues import create_queue
from evqueue.storage.users import create_user

USER = Session(User(id=9, login="bob", profile="USER"))  # no right needed


@pytest.fixture
def ctx(db):
    return ApiContext(cfg=Config.from_mapping({"cluster.node.name": "node1"}), db=db)


async def call(ctx: ApiContext, xml: str) -> etree._Element:
    command = Command.from_element(etree.fromstring(xml))
    response = await Dispatcher([routes]).dispatch(ctx, USER, command)
    return etree.fromstring(serialize(response, node="node1"))


def at(second: int) -> datetime:
    return datetime(2026, 11, 27, 17, 0, second)


async def test_engine_log_newest_first_with_level_names(ctx):
    await store.add_log(ctx.db, "node1", 3, "disk full", at(1))
    await store.add_log(ctx.db, "node2", 7, "debugging", at(2))
    await store.add_log(ctx.db, "node1", 5, "started", at(3))
    reply = await call(ctx, "<logs action='list'/>")
    assert [dict(row.attrib) for row in reply] == [
        {"node": "node1", "level": "LOG_NOTICE", "message": "started",
         "timestamp": "2026-11-27 17:00:03"},
        {"node": "node2", "level": "LOG_DEBUG", "message": "debugging",
         "timestamp": "2026-11-27 17:00:02"},
        {"node": "node1", "level": "LOG_ERR", "message": "disk full",
         "timestamp": "2026-11-27 17:00:01"},
    ]
    notice = await call(ctx, "<logs action='list' filter_level='LOG_NOTICE'/>")
    assert [row.get("message") for row in notice] == ["started", "disk full"]
    page = await call(ctx, "<logs action='list' limit='1' offset='1'/>")
    assert [row.get("message") for row in page] == ["debugging"]
    node2 = await call(ctx, "<logs action='list' filter_node='node2'/>")
    assert [row.get("message") for row in node2] == ["debugging"]


async def test_log_list_errors(ctx):
    bad_level = await call(ctx, "<logs action='list' filter_level='LOG_LOUD'/>")
    assert dict(bad_level.attrib) == {"error": "Unknown filter level", "node": "node1",
                                      "status": "KO"}
    negative = await call(ctx, "<logsapi action='list' limit='-1'/>")
    assert negative.get("error-code") == "INVALID_INTEGER"
    unknown = await call(ctx, "<logs action='get'/>")
    assert unknown.get("error-code") == "UNKNOWN_COMMAND"


async def test_api_log_names_the_user_and_the_object(ctx):
    user_id = await create_user(ctx.db, "alice", "pw", "ADMIN")
    queue_id = await create_queue(ctx.db, "batch", 2, "fifo", False)
    await store.add_api_log(ctx.db, "node1", user_id, queue_id, "Queue", "queue", "create",
                            at(1))
    await store.add_api_log(ctx.db, "node1", 999, 42, "Workflow", "workflow", "delete", at(2))
    reply = await call(ctx, "<logsapi action='list'/>")
    assert [dict(row.attrib) for row in reply] == [
        {"node": "node1", "user": "", "object_id": "42", "object_type": "Workflow",
         "object_name": "unknown", "group": "workflow", "action": "delete",
         "timestamp": "2026-11-27 17:00:02"},
        {"node": "node1", "user": "alice", "object_id": str(queue_id), "object_type": "Queue",
         "object_name": "batch", "group": "queue", "action": "create",
         "timestamp": "2026-11-27 17:00:01"},
    ]


async def test_notification_log(ctx):
    await store.add_notification_log(ctx.db, "node1", 321, "smtp refused", at(5))
    reply = await call(ctx, "<logsnotifications action='list' limit='10'/>")
    assert [dict(row.attrib) for row in reply] == [
        {"node": "node1", "pid": "321", "message": "smtp refused",
         "timestamp": "2026-11-27 17:00:05"}]
