"""The engine's ports over the store: definitions kept in memory until told to forget."""

from __future__ import annotations

import pytest

from evqueue.errors import UnknownObject, UnknownObjectName
from evqueue.server.engine_ports import DbWorkflowSource
from evqueue.storage.database import Database
from evqueue.storage.retry_schedules import create_retry_schedule, update_retry_schedule
from evqueue.storage.workflows import create_workflow, update_workflow

pytestmark = pytest.mark.backends


async def test_a_definition_is_read_once_until_forgotten(db: Database) -> None:
    workflow_id = await create_workflow(db, "w", "<workflow v='1'/>")
    source = DbWorkflowSource(db)
    assert (await source.get_workflow("w")).xml == "<workflow v='1'/>"
    assert (await source.get_workflow(workflow_id)).name == "w"
    await update_workflow(db, workflow_id, "w", "<workflow v='2'/>")
    assert (await source.get_workflow("w")).xml == "<workflow v='1'/>"  # as evQueue: cached
    source.forget()  # what control reload and every definition change do
    assert (await source.get_workflow("w")).xml == "<workflow v='2'/>"
    assert (await source.get_workflow(workflow_id)).xml == "<workflow v='2'/>"


async def test_unknown_workflows_are_not_remembered(db: Database) -> None:
    source = DbWorkflowSource(db)
    with pytest.raises(UnknownObjectName, match="Unknown Workflow name : later"):
        await source.get_workflow("later")
    with pytest.raises(UnknownObject, match="Unknown Workflow ID : 999999"):
        await source.get_workflow(999999)
    await create_workflow(db, "later", "<workflow/>")
    assert (await source.get_workflow("later")).name == "later"


async def test_retry_schedules_are_kept_until_forgotten(db: Database) -> None:
    source = DbWorkflowSource(db)
    assert await source.get_retry_schedule("r") is None
    schedule_id = await create_retry_schedule(db, "r", "<schedule a='1'/>")
    assert await source.get_retry_schedule("r") == "<schedule a='1'/>"
    await update_retry_schedule(db, schedule_id, "r", "<schedule a='2'/>")
    assert await source.get_retry_schedule("r") == "<schedule a='1'/>"
    source.forget()
    assert await source.get_retry_schedule("r") == "<schedule a='2'/>"
