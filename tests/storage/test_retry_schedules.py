"""Retry schedules."""

from __future__ import annotations

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.retry_schedules import (
    create_retry_schedule,
    delete_retry_schedule,
    get_retry_schedule,
    get_retry_schedule_by_name,
    list_retry_schedules,
    update_retry_schedule,
)

pytestmark = pytest.mark.backends

SHORT = '<schedule><level retry_delay="10" retry_times="3"/></schedule>'


async def test_retry_schedule_lifecycle(db: Database) -> None:
    schedule_id = await create_retry_schedule(db, "short", SHORT)
    stored = await get_retry_schedule(db, schedule_id)
    assert stored is not None and (stored.name, stored.xml) == ("short", SHORT)
    assert await get_retry_schedule_by_name(db, "short") == stored
    assert await update_retry_schedule(db, schedule_id, "long", "<schedule/>")
    assert [(s.name, s.xml) for s in await list_retry_schedules(db)] == [("long", "<schedule/>")]
    assert await delete_retry_schedule(db, schedule_id)
    assert await get_retry_schedule(db, schedule_id) is None
    assert not await update_retry_schedule(db, schedule_id, "x", SHORT)


async def test_retry_schedule_names_are_unique(db: Database) -> None:
    await create_retry_schedule(db, "short", SHORT)
    with pytest.raises(DuplicateName):
        await create_retry_schedule(db, "short", SHORT)
