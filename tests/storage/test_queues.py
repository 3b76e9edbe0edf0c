"""Queue definitions."""

from __future__ import annotations

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.queues import (
    create_queue,
    delete_queue,
    get_queue,
    get_queue_by_name,
    list_queues,
    update_queue,
)

pytestmark = pytest.mark.backends


async def test_queue_lifecycle(db: Database) -> None:
    queue_id = await create_queue(db, "dump", 4, "prio", dynamic=True)
    queue = await get_queue(db, queue_id)
    assert queue is not None
    assert (queue.name, queue.concurrency, queue.scheduler, queue.dynamic) == (
        "dump", 4, "prio", True,
    )
    assert await get_queue_by_name(db, "dump") == queue
    assert [q.name for q in await list_queues(db)] == ["default", "dump"]

    assert await update_queue(db, queue_id, "dumps", 2, "fifo", False)
    changed = await get_queue(db, queue_id)
    assert changed is not None and (changed.name, changed.dynamic) == ("dumps", False)

    assert await delete_queue(db, queue_id)
    assert await get_queue(db, queue_id) is None
    assert not await delete_queue(db, queue_id)
    assert not await update_queue(db, queue_id, "x", 1, "fifo", False)


async def test_queue_names_are_unique(db: Database) -> None:
    with pytest.raises(DuplicateName):
        await create_queue(db, "default", 2)
    queue_id = await create_queue(db, "other", 1)
    with pytest.raises(DuplicateName):
        await update_queue(db, queue_id, "default", 1, "fifo", False)


async def test_queue_names_are_case_sensitive(db: Database) -> None:
    await create_queue(db, "Default", 1)
    assert {q.name for q in await list_queues(db)} == {"default", "Default"}
