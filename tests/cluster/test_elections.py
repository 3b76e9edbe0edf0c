"""Once-per-cluster work: several nodes (each with its own connection to the store) compete."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from collections.abc import AsyncIterator

import pytest

from evqueue.cluster.elections import Elector, Periodic
from evqueue.storage.database import Database

T0 = datetime.datetime(2026, 3, 2, 10, 0, 0)


@contextlib.asynccontextmanager
async def nodes(db: Database, *names: str) -> AsyncIterator[dict[str, Elector]]:
    """An elector per node name, each on its own Database (as separate engines are)."""
    opened = [await Database.open(db.url) for _ in names]
    try:
        yield {name: Elector(conn, name) for name, conn in zip(names, opened, strict=True)}
    finally:
        for conn in opened:
            await conn.close()


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


async def test_exactly_one_of_concurrent_nodes_wins(db):
    async with nodes(db, "a", "b", "c") as electors:
        results = await asyncio.gather(*(e.try_win("gc", period=60, now=T0)
                                          for e in electors.values()))
        assert sorted(results) == [False, False, True]
        # nobody else wins within the period; somebody may once it is over
        assert not await electors["a"].try_win("gc", period=60, now=at(59))
        assert await electors["b"].try_win("gc", period=60, now=at(61))


async def test_work_with_period_zero_runs_once_ever(db):
    ran: list[str] = []
    async with nodes(db, "a", "b") as electors:
        for name, elector in electors.items():
            async def work(name: str = name) -> None:
                ran.append(name)
            for day in (0, 400):
                await elector.run_if_elected("scheduledwf_7_2026-03-02 10:00:00", work,
                                             now=at(day * 86400))
    assert ran == ["a"]


class Node:
    """One node's periodic duty, counting the runs it did."""

    def __init__(self, elector: Elector) -> None:
        self.runs = 0
        self.duty = elector.periodic("gc", 60, self.work)

    async def work(self) -> None:
        self.runs += 1


async def tick_all(running: dict[str, Node], seconds: float) -> list[str]:
    """Every running node ticks at T0 + seconds; returns who did the work."""
    done = await asyncio.gather(*(node.duty.tick(at(seconds)) for node in running.values()))
    return [name for name, ran in zip(running, done, strict=True) if ran]


async def test_periodic_work_runs_once_per_interval_as_nodes_stop_and_start(db):
    async with nodes(db, "a", "b", "c", "d") as electors:
        running = {name: Node(electors[name]) for name in ("a", "b", "c")}
        [first] = await tick_all(running, 0)
        assert await tick_all(running, 30) == [], "nobody again within the interval"
        assert len(await tick_all(running, 60)) == 1
        running.pop(first)  # the node that won first stops
        survivors = await tick_all(running, 120)
        assert len(survivors) == 1 and survivors[0] != first
        running["d"] = Node(electors["d"])  # a node starts in the middle of a period
        assert await tick_all(running, 150) == []
        assert len(await tick_all(running, 180)) == 1
        assert sum(node.runs for node in running.values()) <= 3


async def test_periodic_run_on_the_clock_hands_over_when_the_winner_stops(db):
    async with nodes(db, "a", "b") as electors:
        done: asyncio.Queue[str] = asyncio.Queue()
        duties: dict[str, Periodic] = {}
        for name, elector in electors.items():
            async def work(name: str = name) -> None:
                done.put_nowait(name)
            duties[name] = elector.periodic("gc-clock", 1, work)
            duties[name].start()
        try:
            winner = await asyncio.wait_for(done.get(), 10)
            await duties[winner].stop()
            other = await asyncio.wait_for(done.get(), 10)
            while other == winner:  # a run that began before stop() returned
                other = await asyncio.wait_for(done.get(), 10)
            assert other != winner
        finally:
            for duty in duties.values():
                await duty.stop()


async def test_a_failing_store_or_job_does_not_end_the_duty(db, caplog):
    calls: asyncio.Queue[int] = asyncio.Queue()

    async def failing() -> None:
        calls.put_nowait(1)
        raise RuntimeError("job failed")

    async with nodes(db, "a") as electors:
        duty = electors["a"].periodic("gc-fail", 1, failing)
        duty.start()
        try:
            await asyncio.wait_for(calls.get(), 10)
            await asyncio.wait_for(calls.get(), 10)
        finally:
            await duty.stop()
    assert "periodic work 'gc-fail' failed on node a" in caplog.text


def test_an_interval_must_be_positive(db):
    with pytest.raises(ValueError):
        Periodic(Elector(db, "a"), "gc", 0, lambda: asyncio.sleep(0))
