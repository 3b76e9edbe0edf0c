"""The engine's ports over the store: definitions kept in memory until told to forget, launch
rows of a burst in one transaction, a launch alone in its own."""

from __future__ import annotations

import datetime

import pytest

from evqueue.engine.ports import NewInstanceRow
from evqueue.errors import UnknownObject, UnknownObjectName
from evqueue.server.engine_ports import DbInstanceStore, DbWorkflowSource
from evqueue.storage import instances as instance_verbs
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


def _launch_row(workflow_id: int) -> NewInstanceRow:
    return NewInstanceRow(workflow_id=workflow_id, node_name="n", schedule_id=None, host="",
                          comment="", start_time=datetime.datetime(2026, 1, 1),
                          parameters=None)


@pytest.fixture
def transactions(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of launch rows of each insert transaction, in order."""
    sizes: list[int] = []
    create_instances = instance_verbs.create_instances

    async def counted(db: Database, specs: list[instance_verbs.InstanceSpec]) -> list[int]:
        sizes.append(len(specs))
        return await create_instances(db, specs)

    monkeypatch.setattr(instance_verbs, "create_instances", counted)
    return sizes


async def test_a_burst_shares_a_transaction_and_a_launch_alone_does_not_wait_for_it(
        db: Database, transactions: list[int]) -> None:
    workflow_id = await create_workflow(db, "w", "<workflow/>")
    store = DbInstanceStore(db)
    burst = [store.create_instance(_launch_row(workflow_id)) for _ in range(3)]
    alone = await store.create_instance(_launch_row(workflow_id), alone=True)
    ids = [await row_id for row_id in burst]
    assert ids == sorted(ids)
    assert sorted(transactions) == [1, 3]  # the lone row never joins the burst's
    if db.dialect_name == "sqlite":  # inserted inline: before the batch task had its turn
        assert transactions == [1, 3]
        assert alone < ids[0]


async def test_with_a_batch_limit_a_burst_goes_in_small_transactions_in_order(
        db: Database, transactions: list[int]) -> None:
    workflow_id = await create_workflow(db, "w", "<workflow/>")
    store = DbInstanceStore(db, batch_rows=lambda: 2)
    burst = [store.create_instance(_launch_row(workflow_id)) for _ in range(5)]
    ids = [await row_id for row_id in burst]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert transactions == [2, 2, 1]
