"""Notification types, notifications and workflow subscriptions."""

from __future__ import annotations

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.notifications import (
    NotificationBinary,
    all_workflow_notifications,
    clear_notifications,
    create_notification,
    create_notification_type,
    delete_notification,
    delete_notification_type,
    get_notification,
    get_notification_type,
    get_notification_type_binary,
    get_notification_type_by_name,
    get_notification_type_conf,
    list_notification_type_binaries,
    list_notification_types,
    list_notifications,
    set_notification_type_conf,
    subscribe_notification,
    unsubscribe_notification,
    update_notification,
    workflow_notifications,
)
from evqueue.storage.workflows import create_workflow

pytestmark = pytest.mark.backends

BINARY = b"#!/bin/sh\nexit 0\n\x00\xff"


async def test_notification_type_lifecycle(db: Database) -> None:
    type_id = await create_notification_type(db, "email", "Send mails", "<plugin/>", BINARY)
    stored = await get_notification_type(db, type_id)
    assert stored is not None
    assert (stored.name, stored.scope, stored.description, stored.manifest) == (
        "email", "WORKFLOW", "Send mails", "<plugin/>",
    )
    assert await get_notification_type_by_name(db, "email") == stored
    assert await get_notification_type_binary(db, type_id) == BINARY
    assert await get_notification_type_conf(db, type_id) is None
    assert await set_notification_type_conf(db, type_id, b'{"smtp":"localhost"}')
    assert await get_notification_type_conf(db, type_id) == b'{"smtp":"localhost"}'

    alerts = await create_notification_type(db, "slack", "", "<plugin/>", None, scope="ELOGS")
    assert [t.name for t in await list_notification_types(db)] == ["email", "slack"]
    assert await list_notification_type_binaries(db) == [
        NotificationBinary(type_id, "email", BINARY)
    ]
    with pytest.raises(DuplicateName):
        await create_notification_type(db, "email", "", "", None)
    assert await delete_notification_type(db, alerts)
    assert not await delete_notification_type(db, alerts)


async def test_notification_lifecycle(db: Database) -> None:
    type_id = await create_notification_type(db, "email", "", "<plugin/>", None)
    elogs = await create_notification_type(db, "sms", "", "<plugin/>", None, scope="ELOGS")
    nid = await create_notification(db, type_id, "ops", False, '{"to":"ops"}')
    stored = await get_notification(db, nid)
    assert stored is not None
    assert (stored.type_id, stored.name, stored.subscribe_all, stored.parameters, stored.scope) == (
        type_id, "ops", False, '{"to":"ops"}', "WORKFLOW",
    )
    other = await create_notification(db, elogs, "pager", False, "{}")
    assert [n.id for n in await list_notifications(db)] == [nid, other]
    assert [n.id for n in await list_notifications(db, "ELOGS")] == [other]

    assert await update_notification(db, nid, type_id, "ops2", False, "{}")
    assert (await get_notification(db, nid)).name == "ops2"  # type: ignore[union-attr]
    assert await delete_notification(db, nid)
    assert await get_notification(db, nid) is None
    assert not await update_notification(db, nid, type_id, "x", False, "{}")


async def test_subscriptions(db: Database) -> None:
    type_id = await create_notification_type(db, "email", "", "<plugin/>", None)
    nid = await create_notification(db, type_id, "ops", False, "{}")
    w1 = await create_workflow(db, "a", "<workflow/>")
    w2 = await create_workflow(db, "b", "<workflow/>")
    assert await subscribe_notification(db, w1, nid)
    assert not await subscribe_notification(db, w1, nid)
    assert await workflow_notifications(db, w1) == [nid]
    assert await unsubscribe_notification(db, w1, nid)
    assert not await unsubscribe_notification(db, w1, nid)

    everyone = await create_notification(db, type_id, "all", True, "{}")
    assert await all_workflow_notifications(db) == {w1: [everyone], w2: [everyone]}
    assert await clear_notifications(db, w1) == 1
    # editing a subscribe_all notification subscribes every workflow again
    await update_notification(db, everyone, type_id, "all", True, "{}")
    assert await all_workflow_notifications(db) == {w1: [everyone], w2: [everyone]}


async def test_deleting_removes_subscriptions(db: Database) -> None:
    type_id = await create_notification_type(db, "email", "", "<plugin/>", None)
    n1 = await create_notification(db, type_id, "one", True, "{}")
    workflow_id = await create_workflow(db, "a", "<workflow/>")
    await delete_notification(db, n1)
    assert await workflow_notifications(db, workflow_id) == []
    n2 = await create_notification(db, type_id, "two", True, "{}")
    assert await workflow_notifications(db, workflow_id) == [n2]
    await delete_notification_type(db, type_id)
    assert await list_notifications(db) == []
    assert await workflow_notifications(db, workflow_id) == []
