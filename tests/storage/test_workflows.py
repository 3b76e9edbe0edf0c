"""Workflow definitions."""

from __future__ import annotations

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.notifications import (
    create_notification,
    create_notification_type,
    workflow_notifications,
)
from evqueue.storage.users import create_user, list_rights, set_right
from evqueue.storage.workflow_schedules import (
    WorkflowScheduleSpec,
    create_workflow_schedule,
    list_workflow_schedules,
)
from evqueue.storage.workflows import (
    create_workflow,
    delete_workflow,
    get_workflow,
    get_workflow_by_name,
    list_workflows,
    set_workflow_lastcommit,
    update_workflow,
)

pytestmark = pytest.mark.backends

XML = "<workflow><subjobs/></workflow>"


async def test_workflow_lifecycle(db: Database) -> None:
    workflow_id = await create_workflow(db, "backup", XML, "ops", "nightly backup")
    workflow = await get_workflow(db, workflow_id)
    assert workflow is not None
    assert (workflow.name, workflow.xml, workflow.group, workflow.comment, workflow.lastcommit) == (
        "backup", XML, "ops", "nightly backup", None,
    )
    assert await get_workflow_by_name(db, "backup") == workflow

    assert await update_workflow(db, workflow_id, "backup2", "<workflow/>", "g", "c")
    assert await set_workflow_lastcommit(db, workflow_id, "a" * 40)
    changed = await get_workflow(db, workflow_id)
    assert changed is not None
    assert (changed.name, changed.xml, changed.lastcommit) == ("backup2", "<workflow/>", "a" * 40)
    assert [w.name for w in await list_workflows(db)] == ["backup2"]

    assert await delete_workflow(db, workflow_id)
    assert await get_workflow(db, workflow_id) is None
    assert not await delete_workflow(db, workflow_id)
    assert not await update_workflow(db, workflow_id, "x", XML)


async def test_workflow_names_are_unique(db: Database) -> None:
    await create_workflow(db, "backup", XML)
    other = await create_workflow(db, "restore", XML)
    with pytest.raises(DuplicateName):
        await create_workflow(db, "backup", XML)
    with pytest.raises(DuplicateName):
        await update_workflow(db, other, "backup", XML)


async def test_new_workflow_subscribes_to_subscribe_all_notifications(db: Database) -> None:
    type_id = await create_notification_type(db, "email", "", "<plugin/>", b"#!/bin/sh\n")
    everyone = await create_notification(db, type_id, "ops", True, "{}")
    await create_notification(db, type_id, "dev", False, "{}")
    workflow_id = await create_workflow(db, "backup", XML)
    assert await workflow_notifications(db, workflow_id) == [everyone]


async def test_delete_removes_schedules_rights_and_subscriptions(db: Database) -> None:
    workflow_id = await create_workflow(db, "backup", XML)
    keep = await create_workflow(db, "keep", XML)
    type_id = await create_notification_type(db, "email", "", "<plugin/>", None)
    await create_notification(db, type_id, "ops", True, "{}")
    user_id = await create_user(db, "alice", "pw")
    for wid in (workflow_id, keep):
        await set_right(db, user_id, wid, edit=True, read=True, exec=False, kill=False)
        await create_workflow_schedule(
            db, WorkflowScheduleSpec(workflow_id=wid, schedule="0;0;1;;;", parameters=(("a", "1"),))
        )
    await delete_workflow(db, workflow_id)
    assert await workflow_notifications(db, workflow_id) == []
    assert [r.workflow_id for r in await list_rights(db, user_id)] == [keep]
    assert [s.workflow_id for s in await list_workflow_schedules(db)] == [keep]
