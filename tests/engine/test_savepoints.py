"""The savepoint writer groups writes."""

from __future__ import annotations

import asyncio

from evqueue.engine.ports import InstanceWrite
from evqueue.engine.savepoints import SavepointWriter
from tests.engine.fakes import MemoryStore


def write(instance_id: int, status: str = "EXECUTING") -> InstanceWrite:
    return InstanceWrite(instance_id, 1, None, "n", None, None, status, "t0", None, 0,
                         f"<workflow id='{instance_id}' status='{status}'/>", insert=False)


async def test_writes_submitted_together_share_a_transaction():
    store = MemoryStore()
    writer = SavepointWriter(store)
    futures = [writer.submit(write(i)) for i in range(1, 6)]
    futures.append(writer.submit(write(3, "TERMINATED")))
    await asyncio.gather(*futures)
    assert len(store.batches) == 1
    assert sorted(w.instance_id for w in store.batches[0]) == [1, 2, 3, 4, 5]
    assert store.rows[3].status == "TERMINATED"  # the newer write of 3 replaced the older
    await writer.close()


async def test_failed_batch_is_retried():
    store = MemoryStore()
    store.fail_writes = 2
    writer = SavepointWriter(store, retry=True, retry_times=2, retry_wait=0)
    await writer.submit(write(1))
    assert store.rows[1].status == "EXECUTING" and writer.batches == 1
    await writer.close()


async def test_gives_up_after_retries(caplog):
    store = MemoryStore()
    store.fail_writes = 5
    writer = SavepointWriter(store, retry=True, retry_times=1, retry_wait=0)
    await writer.submit(write(1))
    await writer.flush()
    assert store.rows == {} and "dropped" in caplog.text
    await writer.close()
