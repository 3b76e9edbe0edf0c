"""Garbage collection of old history, in bounded batches."""

from __future__ import annotations

import datetime

import pytest

from evqueue.storage.cluster import claim_schedule_fire, schedule_fire_instance, try_unique_action
from evqueue.storage.database import Database
from evqueue.storage.datastore import get_datastore, store_datastore
from evqueue.storage.gc import (
    purge_api_logs,
    purge_instances,
    purge_logs,
    purge_notification_logs,
    purge_schedule_fires,
    purge_unique_actions,
)
from evqueue.storage.instances import (
    InstanceSpec,
    SavepointWrite,
    create_instance,
    get_instance,
    instance_parameters,
    save_instance,
)
from evqueue.storage.logs import (
    add_api_log,
    add_log,
    add_notification_log,
    list_api_logs,
    list_logs,
    list_notification_logs,
)

pytestmark = pytest.mark.backends

T0 = datetime.datetime(2024, 1, 10, 10, 0, 0)


def _day(n: int) -> datetime.datetime:
    return T0 + datetime.timedelta(days=n)


async def test_purge_instances(db: Database) -> None:
    ids = []
    for day in range(5):
        instance_id = await create_instance(
            db, InstanceSpec(workflow_id=1, start=_day(day), parameters=(("p", "v"),))
        )
        await save_instance(db, SavepointWrite(instance_id, "<workflow/>", end=_day(day)))
        ids.append(instance_id)
    running = await create_instance(db, InstanceSpec(workflow_id=1, start=_day(0)))
    entry = await store_datastore(db, ids[0], "output")

    assert await purge_instances(db, before=_day(3), limit=3) == 3  # days 0, 1, 2
    assert await purge_instances(db, before=_day(3), limit=3) == 1  # day 3
    assert await purge_instances(db, before=_day(3), limit=3) == 0
    assert [await get_instance(db, i) is None for i in ids] == [True] * 4 + [False]
    assert await instance_parameters(db, ids[0]) == ()
    assert await get_datastore(db, entry) is None
    assert await get_instance(db, running) is not None


async def test_purge_logs(db: Database) -> None:
    for day in range(3):
        await add_log(db, "node1", 6, f"day {day}", _day(day))
        await add_api_log(db, "node1", 1, 1, "Queue", "queue", "edit", _day(day))
        await add_notification_log(db, "node1", 100 + day, "failed", _day(day))
    assert await purge_logs(db, _day(1), 10) == 2
    assert await purge_api_logs(db, _day(0), 10) == 1
    assert await purge_notification_logs(db, _day(2), 1) == 1
    assert [r.message for r in await list_logs(db)] == ["day 2"]
    assert len(await list_api_logs(db)) == 2
    assert len(await list_notification_logs(db)) == 2


async def test_purge_elections_and_fires(db: Database) -> None:
    assert await try_unique_action(db, "gc", "node1", _day(0))
    assert await claim_schedule_fire(db, 1, _day(0), "node1")
    assert await claim_schedule_fire(db, 1, _day(2), "node1")
    assert await purge_unique_actions(db, _day(1), 10) == 1
    assert await try_unique_action(db, "gc", "node2", _day(1))
    assert await purge_schedule_fires(db, _day(1)) == 1
    assert await schedule_fire_instance(db, 1, _day(0)) is None
    assert await schedule_fire_instance(db, 1, _day(2)) is not None
