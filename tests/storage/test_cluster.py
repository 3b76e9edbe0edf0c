"""Node registry, elections (t_uniqueaction) and schedule-fire claims across engines."""

from __future__ import annotations

import asyncio
import datetime
import subprocess
import sys
import textwrap

import pytest

from evqueue.storage.cluster import (
    NodeRow,
    claim_schedule_fire,
    heartbeat,
    list_nodes,
    register_node,
    schedule_fire_instance,
    set_schedule_fire_instance,
    try_unique_action,
    unregister_node,
)
from evqueue.storage.database import Database

pytestmark = pytest.mark.backends

T0 = datetime.datetime(2024, 1, 10, 10, 0, 0)


def _at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


async def test_node_registry(db: Database) -> None:
    await register_node(db, "node1", "tcp://h1:5000", "ws://h1:5001", "3.3", _at(0))
    await register_node(db, "node2", "tcp://h2:5000", "ws://h2:5001", "3.3", _at(0))
    assert await heartbeat(db, "node1", _at(30))
    assert not await heartbeat(db, "ghost", _at(30))
    assert await list_nodes(db) == [
        NodeRow("node1", "tcp://h1:5000", "ws://h1:5001", "3.3", _at(0), _at(30)),
        NodeRow("node2", "tcp://h2:5000", "ws://h2:5001", "3.3", _at(0), _at(0)),
    ]
    live = await list_nodes(db, now=_at(40), max_age=15)
    assert [n.name for n in live] == ["node1"]

    # a restart refreshes the row
    await register_node(db, "node2", "tcp://h2:6000", "", "3.3", _at(35))
    assert [n.name for n in await list_nodes(db, now=_at(40), max_age=15)] == ["node1", "node2"]
    assert await unregister_node(db, "node2")
    assert not await unregister_node(db, "node2")
    assert [n.name for n in await list_nodes(db)] == ["node1"]


async def test_election_blocks_for_the_period(db: Database) -> None:
    assert await try_unique_action(db, "gc", "node1", _at(0), period=60)
    assert not await try_unique_action(db, "gc", "node2", _at(30), period=60)
    assert await try_unique_action(db, "other", "node2", _at(30), period=60)
    assert await try_unique_action(db, "gc", "node2", _at(61), period=60)


async def test_election_without_period_is_won_once(db: Database) -> None:
    name = "scheduledwf_3_2024-01-10 10:00:00"
    assert await try_unique_action(db, name, "node1", _at(0))
    assert not await try_unique_action(db, name, "node2", _at(3600))


async def test_concurrent_elections_have_one_winner(db: Database) -> None:
    engines = [db] + [await Database.open(db.url) for _ in range(2)]
    try:
        for name, period in (("gc", 60), ("scheduledwf_1_x", 0)):
            tries = [
                try_unique_action(engine, name, f"node{n}", _at(0), period)
                for n, engine in enumerate(engines)
                for _ in range(6)
            ]
            results = await asyncio.gather(*tries)
            assert results.count(True) == 1, name
    finally:
        for engine in engines[1:]:
            await engine.close()


ELECTOR = textwrap.dedent(
    """
    import asyncio, datetime, sys
    from evqueue.storage.cluster import try_unique_action
    from evqueue.storage.database import Database

    async def main(url, node):
        db = await Database.open(url)
        now = datetime.datetime(2024, 1, 10, 10, 0, 0)
        try:
            names = [f"action{i}" for i in range(8)]
            won = await asyncio.gather(*(try_unique_action(db, n, node, now) for n in names))
            print(" ".join(n for n, w in zip(names, won) if w))
        finally:
            await db.close()

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_elections_between_processes(db: Database) -> None:
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", ELECTOR, db.url, f"node{n}",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for n in range(3)
    ]
    wins: list[str] = []
    for child in children:
        out, err = await child.communicate()
        assert child.returncode == 0, err.decode()
        wins += out.decode().split()
    assert sorted(wins) == [f"action{i}" for i in range(8)]


async def test_schedule_fire_is_claimed_once(db: Database) -> None:
    other = await Database.open(db.url)
    try:
        claims = await asyncio.gather(
            *(claim_schedule_fire(d, 7, _at(0), name) for d, name in ((db, "n1"), (other, "n2")))
        )
    finally:
        await other.close()
    assert sorted(claims) == [False, True]
    winner = "n1" if claims[0] else "n2"
    assert await schedule_fire_instance(db, 7, _at(0)) == (winner, None)
    assert await set_schedule_fire_instance(db, 7, _at(0), 1234)
    assert await schedule_fire_instance(db, 7, _at(0)) == (winner, 1234)
    assert await schedule_fire_instance(db, 7, _at(1)) is None
    assert await claim_schedule_fire(db, 7, _at(1), "n2")
