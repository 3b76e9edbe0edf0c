"""The savepoint writer groups writes."""

from __future__ import annotations

import asyncio
import datetime

from evqueue.engine.ports import InstanceWrite
from evqueue.engine.savepoints import SavepointWriter
from tests.engine.fakes import MemoryStore

T0 = datetime.datetime(2026, 1, 1)


def write(instance_id: int, status: str = "EXECUTING") -> InstanceWrite:
    return InstanceWrite(instance_id, 1, None, "n", None, None, status, T0, None, 0,
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


async def test_a_write_made_later_is_made_once_in_its_latest_state():
    store = MemoryStore()
    stored_results = []
    writer = SavepointWriter(store, on_stored=lambda w: stored_results.append(w.results))
    made = []
    state = {"status": "EXECUTING"}

    def make() -> InstanceWrite:
        made.append(state["status"])
        return write(1, state["status"])

    futures = [writer.submit_later(1, make, (10,)), writer.submit_later(1, make, (11,))]
    state["status"] = "TERMINATED"  # the instance changed again before its batch
    futures.append(writer.submit_later(1, make))
    assert await asyncio.gather(*futures) == [True, True, True]
    assert made == ["TERMINATED"] and len(store.batches) == 1
    assert store.rows[1].status == "TERMINATED"
    assert stored_results == [(10, 11)]  # the results every replaced write held
    await writer.close()


async def test_with_a_batch_limit_the_loop_runs_between_small_transactions():
    store = MemoryStore()
    between = []
    writer = SavepointWriter(store, batch_rows=lambda: 2)
    futures = [writer.submit(write(i)) for i in range(1, 6)]

    async def other_work() -> None:  # e.g. a client's read waiting in the loop
        while len(between) < 3:
            between.append(len(store.batches))
            await asyncio.sleep(0)

    await asyncio.gather(other_work(), *futures)
    assert [sorted(w.instance_id for w in batch) for batch in store.batches] == [
        [1, 2], [3, 4], [5]]
    assert between == [1, 2, 3]  # it ran between the transactions, not after them all
    await writer.close()


async def test_failed_batch_is_retried():
    store = MemoryStore()
    store.fail_writes = 2
    writer = SavepointWriter(store, retry=True, retry_times=2, retry_wait=0)
    await writer.submit(write(1))
    assert store.rows[1].status == "EXECUTING" and writer.batches == 1
    await writer.close()


async def test_a_write_given_up_is_stored_once_the_store_is_back(caplog):
    store = MemoryStore()
    store.fail_writes = 3  # two tries of the first batch, then one more failure
    writer = SavepointWriter(store, retry=True, retry_times=1, retry_wait=0)
    await writer.submit(write(1, "TERMINATED"))  # its waiter is let go after the retries
    assert store.rows == {} and writer.deferred == 1
    assert "not stored, tried again" in caplog.text
    for _ in range(100):  # tried again a second later, with nothing else submitted
        if 1 in store.rows:
            break
        await asyncio.sleep(0.05)
    assert store.rows[1].status == "TERMINATED" and writer.deferred == 0
    await writer.close()


async def test_a_newer_write_replaces_one_given_up():
    store = MemoryStore()
    store.fail_writes = 2
    writer = SavepointWriter(store, retry=True, retry_times=1, retry_wait=0)
    await writer.submit(write(1))
    assert writer.deferred == 1
    await writer.submit(write(1, "TERMINATED"))
    assert store.rows[1].status == "TERMINATED" and writer.deferred == 0
    await writer.close()


async def test_writes_are_dropped_when_retrying_is_disabled(caplog):
    store = MemoryStore()
    store.fail_writes = 1
    writer = SavepointWriter(store, retry=False)
    await writer.submit(write(1))
    assert store.rows == {} and writer.deferred == 0 and "dropped" in caplog.text
    await writer.close()


async def test_close_drops_what_the_store_never_took(caplog):
    store = MemoryStore()
    store.fail_writes = 100
    writer = SavepointWriter(store, retry=True, retry_times=1, retry_wait=0)
    await writer.submit(write(7))
    await writer.close()
    assert "savepoints of instances [7] dropped" in caplog.text
