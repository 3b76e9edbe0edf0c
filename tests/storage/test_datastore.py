"""The datastore of large outputs."""

from __future__ import annotations

import datetime

import pytest

from evqueue.storage.database import Database
from evqueue.storage.datastore import get_datastore, store_datastore
from evqueue.storage.instances import (
    InstanceSpec,
    SavepointWrite,
    create_instance,
    delete_instance,
    save_instance,
)

pytestmark = pytest.mark.backends


async def test_store_and_get(db: Database) -> None:
    value = "line\n" * 200_000
    entry = await store_datastore(db, 42, value)
    assert await get_datastore(db, entry) == value
    assert await get_datastore(db, entry + 1) is None


async def test_entries_go_with_their_instance(db: Database) -> None:
    instance_id = await create_instance(db, InstanceSpec(workflow_id=1))
    entry = await store_datastore(db, instance_id, "big output")
    await save_instance(db, SavepointWrite(instance_id, "<workflow/>", end=None))
    assert not await delete_instance(db, instance_id)  # still executing
    assert await get_datastore(db, entry) == "big output"
    await save_instance(db, SavepointWrite(instance_id, "<workflow/>", end=datetime.datetime.now()))
    assert await delete_instance(db, instance_id)
    assert await get_datastore(db, entry) is None
