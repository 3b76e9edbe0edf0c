"""B1 throughput: N one-task (``/bin/true``) workflows launched asynchronously over the unix
socket, instances per second until every one is TERMINATED.

Per backend (SQLite, PostgreSQL, MariaDB), savepoint level (2, 3) and queue concurrency
(8, 16); one node per backend and level, with one queue and one workflow per concurrency.
The engine's CPU time per instance, and that of the forker with its monitors and tasks, are
recorded too: they do not depend on how busy the machine is as much as rates do.

Launches are pipelined on one connection (64 unanswered at most), so the figure is
the engine's, not the client's round trip. The floor is ``/bin/true`` spawned and reaped from
one Python thread, one at a time (the target is half of it) and ``concurrency`` at a time.
"""

from __future__ import annotations

import argparse
import time

from common import (
    Figure,
    backend_available,
    cpu_seconds,
    one_task_workflow,
    print_table,
    running_node,
)
from floors import spawn_floor

__all__ = ["run"]

BACKENDS = ("sqlite", "postgresql", "mariadb")
LEVELS = (2, 3)
CONCURRENCIES = (8, 16)


def _forker_pid(node) -> int:  # type: ignore[no-untyped-def]
    return int((node.directory / "forker.pid").read_text().strip())


def measure(node, count: int, workflow: str) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """(instances/s until all ended, launch acks/s, engine CPU ms per instance, forker +
    monitors + tasks CPU ms per instance) for ``count`` launches of ``workflow``."""
    engine, forker = node.process.pid, _forker_pid(node)
    cpu_engine, cpu_tasks = cpu_seconds(engine), cpu_seconds(forker, children=True)
    start = time.perf_counter()
    node.wire.pipeline(f"<instance action='launch' name='{workflow}'/>".encode(), count)
    acked = time.perf_counter()
    node.wait_idle()
    end = time.perf_counter()
    cpu_engine = (cpu_seconds(engine) - cpu_engine) * 1000 / count
    cpu_tasks = (cpu_seconds(forker, children=True) - cpu_tasks) * 1000 / count
    return count / (end - start), count / (acked - start), cpu_engine, cpu_tasks


def one_node(backend: str, level: int, count: int,
             runs: int) -> dict[int, list[tuple[float, float, float, float]]]:
    """Every run's figures (see :func:`measure`) per queue concurrency, on one fresh node."""
    settings = {"workflowinstance.savepoint.level": str(level)}
    with running_node(f"b1-{backend}", backend=backend, settings=settings) as node:
        for concurrency in CONCURRENCIES:
            node.queue(f"q{concurrency}", concurrency)
            node.workflow(f"w{concurrency}", one_task_workflow(queue=f"q{concurrency}"))
        measure(node, min(count, 50), f"w{CONCURRENCIES[-1]}")  # warm-up: imports, caches
        return {c: [measure(node, count, f"w{c}") for _ in range(runs)]
                for c in CONCURRENCIES}


def _figures(backend: str, level: int, concurrency: int,
             results: list[tuple[float, float, float, float]], count: int,
             sequential: float) -> list[Figure]:
    parallel = spawn_floor(count, concurrency)
    target = 400.0 if (backend, level) == ("sqlite", 2) else None
    figures = [Figure(
        "B1", f"{backend} level {level} concurrency {concurrency}", "inst/s",
        [r[0] for r in results], floor=sequential, floor_name="spawn 1 thread", target=target,
        extra={"launch_acks_per_s": [r[1] for r in results], "count": count,
               f"spawn_floor_width_{concurrency}": parallel,
               "engine_cpu_ms_per_instance": [r[2] for r in results],
               "forker_monitor_task_cpu_ms_per_instance": [r[3] for r in results]})]
    if (backend, concurrency) == ("sqlite", 16):
        figures.append(Figure(
            "B1", f"sqlite level {level}: engine CPU per instance", "ms",
            [r[2] for r in results], higher_is_better=False,
            note="CPU of the engine process alone; 1000 / this = instances/s one free core "
                 "could carry"))
        figures.append(Figure(
            "B1", f"sqlite level {level}: forker+monitor+task CPU per instance", "ms",
            [r[3] for r in results], higher_is_better=False))
    return figures


def run(quick: bool = False, runs: int = 3) -> list[Figure]:
    """All B1 figures."""
    count = 300 if quick else 1000
    sequential = max(spawn_floor(300) for _ in range(2))
    figures: list[Figure] = []
    for backend in BACKENDS:
        reason = backend_available(backend)
        for level in LEVELS:
            if reason:
                figures.append(Figure("B1", f"{backend} level {level}", "inst/s", [],
                                      note=f"skipped: {reason}"))
                continue
            for concurrency, results in one_node(backend, level, count, runs).items():
                figures += _figures(backend, level, concurrency, results, count, sequential)
    return figures


def main() -> None:
    """``python bench/b1_throughput.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer instances")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
