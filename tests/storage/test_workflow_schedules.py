"""Workflow schedules and their parameters."""

from __future__ import annotations

import pytest

from evqueue.storage.database import Database
from evqueue.storage.instances import InstanceSpec, create_instance
from evqueue.storage.workflow_schedules import (
    WorkflowScheduleSpec,
    create_workflow_schedule,
    delete_workflow_schedule,
    get_workflow_schedule,
    list_workflow_schedules,
    schedules_for_node,
    set_workflow_schedule_active,
    update_workflow_schedule,
)
from evqueue.storage.workflows import create_workflow

pytestmark = pytest.mark.backends


async def test_workflow_schedule_lifecycle(db: Database) -> None:
    workflow_id = await create_workflow(db, "backup", "<workflow/>", "ops")
    spec = WorkflowScheduleSpec(
        workflow_id=workflow_id, schedule="0;30;2;;;", node_name="node1", onfailure="SUSPEND",
        user="backup", host="db1", comment="nightly", parameters=(("db", "sales"), ("t", "x")),
    )
    schedule_id = await create_workflow_schedule(db, spec)
    stored = await get_workflow_schedule(db, schedule_id)
    assert stored is not None
    assert (stored.schedule, stored.node_name, stored.onfailure, stored.user, stored.host) == (
        "0;30;2;;;", "node1", "SUSPEND", "backup", "db1",
    )
    assert (stored.active, stored.comment, stored.parameters) == (
        True, "nightly", (("db", "sales"), ("t", "x")),
    )
    assert (stored.workflow_name, stored.workflow_group) == ("backup", "ops")

    edited = WorkflowScheduleSpec(workflow_id=workflow_id, schedule=";;;;;", node_name="all",
                                  parameters=(("db", "hr"),))
    assert await update_workflow_schedule(db, schedule_id, edited)
    changed = await get_workflow_schedule(db, schedule_id)
    assert changed is not None
    assert (changed.schedule, changed.node_name, changed.user, changed.parameters) == (
        ";;;;;", "all", None, (("db", "hr"),),
    )
    assert await set_workflow_schedule_active(db, schedule_id, False)
    assert [s.active for s in await list_workflow_schedules(db)] == [False]

    assert await delete_workflow_schedule(db, schedule_id)
    assert await get_workflow_schedule(db, schedule_id) is None
    assert not await update_workflow_schedule(db, schedule_id, edited)
    assert not await delete_workflow_schedule(db, schedule_id)


async def test_schedules_for_node(db: Database) -> None:
    workflow_id = await create_workflow(db, "backup", "<workflow/>")
    ids = {}
    for node in ("node1", "node2", "all", "any"):
        ids[node] = await create_workflow_schedule(
            db, WorkflowScheduleSpec(workflow_id=workflow_id, schedule=";;;;;", node_name=node)
        )
    locked = await create_workflow_schedule(
        db, WorkflowScheduleSpec(workflow_id=workflow_id, schedule=";;;;;", node_name="node1",
                                 active=False)
    )
    running = await create_instance(
        db, InstanceSpec(workflow_id=workflow_id, node_name="node1", schedule_id=ids["all"])
    )
    await create_instance(  # running for the same schedule, but on another node
        db, InstanceSpec(workflow_id=workflow_id, node_name="node2", schedule_id=ids["any"])
    )
    found = await schedules_for_node(db, "node1")
    assert [(s.schedule.id, s.running_instance_id) for s in found] == [
        (ids["node1"], None), (ids["all"], running), (ids["any"], None),
    ]
    assert locked not in [s.schedule.id for s in found]
