"""B8 history: ``instances list`` with filters and paging over 1 M terminated instances.

The rows are inserted straight through the storage verb ``create_instances`` in batches
(explicit ids, one executemany per batch) into a scratch database, spread over 20
workflows, 3 nodes and 60 days, 5 % with errors, one in ten with a launch parameter. Then a
node serves that database (PostgreSQL: after ``VACUUM ANALYZE``, as autovacuum would
do) and each query below is sent N times over the unix socket; the
figure is the 95th percentile of the round trips (the client parses nothing).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import random
import time

from common import (
    Figure,
    backend_available,
    one_task_workflow,
    percentile,
    print_table,
    running_node,
)

from evqueue.storage import instances as instance_verbs
from evqueue.storage.database import Database

__all__ = ["QUERIES", "fill", "run"]

WORKFLOWS = 20
NODES = ("alpha", "beta", "gamma")
BATCH = 20_000
EPOCH = datetime.datetime(2026, 1, 1)
DAYS = 60

QUERIES = {
    "page 1": "",
    "page 1000 (offset 30 000)": "offset='30000'",
    "workflow": "filter_workflow='w7'",
    "workflow + errors": "filter_workflow='w7' filter_error='yes'",
    "one day launched": ("filter_launched_from='2026-01-20 00:00:00' "
                         "filter_launched_until='2026-01-20 23:59:59'"),
    "node, page 10": "filter_node='beta' offset='300'",
    "parameter": "parameter_customer='c42'",
}


def _spec(instance_id: int, rng: random.Random) -> instance_verbs.InstanceSpec:
    start = EPOCH + datetime.timedelta(seconds=instance_id * DAYS * 86400 // 1_000_000
                                       + rng.randrange(60))
    return instance_verbs.InstanceSpec(
        instance_id=instance_id, workflow_id=1 + rng.randrange(WORKFLOWS),
        node_name=NODES[rng.randrange(len(NODES))], start=start,
        end=start + datetime.timedelta(seconds=rng.randrange(1, 600)), status="TERMINATED",
        errors=1 if rng.random() < 0.05 else 0, savepoint="<workflow/>",
        parameters=(("customer", f"c{rng.randrange(500)}"),) if rng.random() < 0.1 else ())


async def fill(url: str, count: int) -> float:
    """Insert ``count`` terminated instances; returns rows per second."""
    db = await Database.open(url)
    rng = random.Random(42)
    start = time.perf_counter()
    try:
        for first in range(1, count + 1, BATCH):
            last = min(count, first + BATCH - 1)
            await instance_verbs.create_instances(
                db, [_spec(i, rng) for i in range(first, last + 1)])
    finally:
        await db.close()
    return count / (time.perf_counter() - start)


async def _vacuum(url: str) -> None:
    """What autovacuum does after a bulk load: statistics and the visibility map."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def one_backend(backend: str, count: int, repeat: int) -> tuple[dict[str, list[float]], float]:
    """Query round trips (ms) per query, and the fill rate."""
    with running_node(f"b8-{backend}", backend=backend) as node:
        node.queue("q", 1)
        for index in range(WORKFLOWS):
            node.workflow(f"w{index}", one_task_workflow())
        rate = asyncio.run(fill(node.db_url, count))
        if backend == "postgresql":
            asyncio.run(_vacuum(node.db_url))
        node.forget_connection()  # idle for longer than network.rcv.timeout meanwhile
        times: dict[str, list[float]] = {}
        for name, attrs in QUERIES.items():
            request = f"<instances action='list' {attrs}/>".encode()
            node.wire.call(request)  # warm the database's caches once
            samples = []
            for _ in range(repeat):
                started = time.perf_counter()
                node.wire.call(request)
                samples.append((time.perf_counter() - started) * 1000)
            times[name] = samples
        return times, rate


def run(quick: bool = False, runs: int = 20) -> list[Figure]:
    """B8 figures per backend: p95 per query and over all queries."""
    count = 200_000 if quick else 1_000_000
    figures: list[Figure] = []
    for backend in ("sqlite", "postgresql"):
        reason = backend_available(backend)
        if reason:
            figures.append(Figure("B8", f"{backend} all queries p95", "ms", [],
                                  note=f"skipped: {reason}"))
            continue
        times, rate = one_backend(backend, count, runs)
        every = [t for samples in times.values() for t in samples]
        figures.append(Figure("B8", f"{backend} {count // 1000} k rows, all queries p95", "ms",
                              [percentile(every, 0.95)], higher_is_better=False, target=100,
                              extra={"fill_rows_per_s": rate}))
        for name, samples in times.items():
            figures.append(Figure("B8", f"{backend} {name} p95", "ms",
                                  [percentile(samples, 0.95)], higher_is_better=False,
                                  extra={"median": percentile(samples, 0.5)}))
    return figures


def main() -> None:
    """``python bench/b8_history.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200 k rows, not 1 M")
    parser.add_argument("--runs", type=int, default=20, help="requests per query")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
