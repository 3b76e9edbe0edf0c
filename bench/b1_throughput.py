"""B1 throughput: N one-task (``/bin/true``) workflows launched asynchronously over the unix
socket, instances per second until every one is TERMINATED.

Per backend (SQLite, PostgreSQL, MariaDB), savepoint level (2, 3) and queue concurrency
(8, 16); one node per backend and level, with one queue and one workflow per concurrency.
The engine's CPU time per instance, and that of the forker with its monitors and tasks, are
recorded too: they do not depend on how busy the machine is as much as rates do.

Launches are pipelined on one connection (64 unanswered at most), so the figure is
the engine's, not the client's round trip; on SQLite at level 2 with concurrency 16 also from
4 connections at once (16 unanswered each). The floor is ``/bin/true`` spawned and reaped from
one Python thread, one at a time, and ``concurrency`` at a time.

With a peer (``--peer``, see ``evqueue_peer.py``) the same launches run on it first, and each
instances/s figure is printed with the peer's and the ratio evqueue / peer.
"""

from __future__ import annotations

import argparse
import threading
import time

from common import (
    ApiHelpers,
    Figure,
    backend_available,
    cpu_seconds,
    one_task_workflow,
    print_table,
    running_node,
    tree_cpu_seconds,
)
from evqueue_peer import Peer, PeerNode, add_peer_arguments, peer_from_arguments
from floors import spawn_floor, task_cpu_floor

__all__ = ["run"]

BACKENDS = ("sqlite", "postgresql", "mariadb")
LEVELS = (2, 3)
CONCURRENCIES = (8, 16)
#: Clients of the several-clients figure (concurrency 16), each pipelining WINDOW // CLIENTS.
CLIENTS = 4
WINDOW = 64

#: One run: (instances/s until all ended, launch acks/s, engine CPU ms per instance, forker +
#: monitors + tasks CPU ms per instance); the CPU figures are NaN on a peer.
Result = tuple[float, float, float, float]


def _forker_pid(node) -> int:  # type: ignore[no-untyped-def]
    return int((node.directory / "forker.pid").read_text().strip())


def _launch(node: ApiHelpers, count: int, workflow: str, clients: int) -> tuple[float, float]:
    """(seconds until every launch was answered, seconds until all ended), from ``clients``
    connections pipelining ``count`` launches between them."""
    request = f"<instance action='launch' name='{workflow}'/>".encode()
    if clients == 1:
        start = time.perf_counter()
        node.wire.pipeline(request, count, WINDOW)
        acked = time.perf_counter()
    else:
        wires = [node.connect() for _ in range(clients)]
        errors: list[BaseException] = []

        def client(index: int) -> None:
            try:
                share = count // clients + (index < count % clients)
                wires[index].pipeline(request, share, WINDOW // clients)
            except BaseException as exc:  # reported below, in the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        acked = time.perf_counter()
        for wire in wires:
            wire.close()
        if errors:
            raise errors[0]
    node.wait_idle()
    return acked - start, time.perf_counter() - start


def measure(node, count: int, workflow: str, clients: int = 1) -> Result:  # type: ignore[no-untyped-def]
    """One run (see :data:`Result`) of ``count`` launches of ``workflow`` on a local node."""
    engine, forker = node.process.pid, _forker_pid(node)
    cpu_engine, cpu_tasks = cpu_seconds(engine), tree_cpu_seconds(forker)
    acked, ended = _launch(node, count, workflow, clients)
    cpu_engine = (cpu_seconds(engine) - cpu_engine) * 1000 / count
    cpu_tasks = (tree_cpu_seconds(forker) - cpu_tasks) * 1000 / count
    return count / ended, count / acked, cpu_engine, cpu_tasks


def one_node(backend: str, level: int, count: int,
             runs: int) -> dict[tuple[int, int], list[Result]]:
    """Every run's figures per (queue concurrency, clients), on one fresh node."""
    settings = {"workflowinstance.savepoint.level": str(level)}
    with running_node(f"b1-{backend}", backend=backend, settings=settings) as node:
        for concurrency in CONCURRENCIES:
            node.queue(f"q{concurrency}", concurrency)
            node.workflow(f"w{concurrency}", one_task_workflow(queue=f"q{concurrency}"))
        measure(node, min(count, 50), f"w{CONCURRENCIES[-1]}")  # warm-up: imports, caches
        results = {(c, 1): [measure(node, count, f"w{c}") for _ in range(runs)]
                   for c in CONCURRENCIES}
        if (backend, level) == ("sqlite", 2):
            wide = CONCURRENCIES[-1]
            results[wide, CLIENTS] = [measure(node, count, f"w{wide}", CLIENTS)
                                      for _ in range(runs)]
        return results


def on_peer(peer: Peer, count: int, runs: int) -> dict[tuple[int, int], list[float]]:
    """Instances/s on the peer per (queue concurrency, clients), the same workloads."""
    node = PeerNode(peer)
    try:
        workflows = {c: node.ensure_workflow(f"one_q{c}", one_task_workflow(
            queue=node.ensure_queue(c))) for c in CONCURRENCIES}
        node.wait_idle()
        _launch(node, min(count, 50), workflows[CONCURRENCIES[-1]], 1)  # warm-up
        rates: dict[tuple[int, int], list[float]] = {}
        shapes = [(c, 1) for c in CONCURRENCIES] + [(CONCURRENCIES[-1], CLIENTS)]
        for concurrency, clients in shapes:
            rates[concurrency, clients] = [
                count / _launch(node, count, workflows[concurrency], clients)[1]
                for _ in range(runs)]
        return rates
    finally:
        node.close()


def _figures(backend: str, level: int, concurrency: int, clients: int,
             results: list[Result], count: int, sequential: float,
             peer_rates: list[float], task_cpu: float) -> list[Figure]:
    parallel = spawn_floor(count, concurrency)
    target = 700.0 if (backend, level) == ("sqlite", 2) and concurrency == 16 else None
    shape = f" {clients} clients" if clients > 1 else ""
    figures = [Figure(
        "B1", f"{backend} level {level} concurrency {concurrency}{shape}", "inst/s",
        [r[0] for r in results], floor=sequential, floor_name="spawn 1 thread", target=target,
        peer_runs=peer_rates,
        extra={"launch_acks_per_s": [r[1] for r in results], "count": count,
               f"spawn_floor_width_{concurrency}": parallel,
               "engine_cpu_ms_per_instance": [r[2] for r in results],
               "forker_monitor_task_cpu_ms_per_instance": [r[3] for r in results]})]
    if (backend, concurrency, clients) == ("sqlite", 16, 1):
        figures.append(Figure(
            "B1", f"sqlite level {level}: engine CPU per instance", "ms",
            [r[2] for r in results], higher_is_better=False,
            target=1.2 if level == 2 else None,
            note="CPU of the engine process alone; 1000 / this = instances/s one free core "
                 "could carry"))
        figures.append(Figure(
            "B1", f"sqlite level {level}: forker+monitor+task CPU per instance", "ms",
            [r[3] for r in results], higher_is_better=False))
        figures.append(Figure(
            "B1", f"sqlite level {level}: forker+monitor CPU per task, task excluded", "ms",
            [r[3] - task_cpu for r in results], higher_is_better=False,
            target=1.0 if level == 2 else None,
            note=f"the line above less the task's own CPU ({task_cpu:.3f} ms per /bin/true, "
                 "measured by wait4 in the same run)"))
    return figures


def run(quick: bool = False, runs: int = 3, *, peer: Peer | None = None,
        tiny: bool = False) -> list[Figure]:
    """All B1 figures; with ``peer``, its instances/s next to each. ``tiny``: a few launches
    on SQLite at level 2 only, to check that the benchmark works (figures meaningless)."""
    count = 24 if tiny else 300 if quick else 1000
    backends, levels = (("sqlite",), (2,)) if tiny else (BACKENDS, LEVELS)
    sequential = max(spawn_floor(100 if tiny else 300) for _ in range(2))
    task_cpu = task_cpu_floor(100 if tiny else 300)
    peer_rates = on_peer(peer, count, runs) if peer is not None else {}
    figures: list[Figure] = []
    for backend in backends:
        reason = backend_available(backend)
        for level in levels:
            if reason:
                figures.append(Figure("B1", f"{backend} level {level}", "inst/s", [],
                                      note=f"skipped: {reason}"))
                continue
            for (concurrency, clients), results in one_node(backend, level, count,
                                                             runs).items():
                figures += _figures(backend, level, concurrency, clients, results, count,
                                    sequential, peer_rates.get((concurrency, clients), []),
                                    task_cpu)
    if peer is not None:
        said = f"peer: {peer} (its own store and savepoint level)"
        figures[0].note = "; ".join(filter(None, [figures[0].note, said]))
    return figures


def main() -> None:
    """``python bench/b1_throughput.py [--quick] [--runs N] [--peer unix:///…]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer instances")
    parser.add_argument("--tiny", action="store_true",
                        help="a few instances on SQLite only: checks the benchmark works")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    add_peer_arguments(parser)
    args = parser.parse_args()
    print_table(run(args.quick, args.runs, peer=peer_from_arguments(args), tiny=args.tiny))


if __name__ == "__main__":
    main()
