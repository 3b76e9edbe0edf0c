"""B4 scale: many instances launched at once, and what each one waiting in a queue costs.

- Rate: ``count`` one-task (``/bin/true``) instances launched pipelined over the unix socket
  into a queue of concurrency 16 (SQLite, savepoint level 2), instances/s until all ended;
  its floor is the same node's rate for 500 instances, measured just before: the figure is
  how much of that rate a burst twenty times larger keeps (target ≥ 0.9).
- Memory per queued instance: a queue of concurrency 1 is held by a task that sleeps, then
  ``count`` instances are launched into it and wait there; the engine's RSS grows by this
  much per waiting instance (after a garbage collection pass: RSS is read once the growth
  stopped), on a node of its own (the burst's high-water mark would hide it). Target ≤ 5 KB.
  The node is then stopped with them still queued.
"""

from __future__ import annotations

import argparse
import threading
import time

from common import Figure, one_task_workflow, print_table, running_node

__all__ = ["run"]

WINDOW = 64
CONCURRENCY = 16
SMALL = 500
SETTINGS = {"workflowinstance.savepoint.level": "2"}


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _rate(node, count: int) -> float:  # type: ignore[no-untyped-def]
    """Instances/s of ``count`` launches of ``burst``, from the first launch to the last end."""
    start = time.perf_counter()
    node.wire.pipeline(b"<instance action='launch' name='burst'/>", count, WINDOW)
    node.wait_idle()
    return count / (time.perf_counter() - start)


def _peak_rss(pid: int, stop: threading.Event, found: list[int]) -> None:
    while not stop.wait(0.02):
        found.append(_rss_kb(pid))


def _settled_rss(pid: int, timeout: float = 10.0) -> int:
    """RSS once it stopped moving for a second (queued instances' savepoints written)."""
    last, since = _rss_kb(pid), time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = _rss_kb(pid)
        if abs(now - last) > 64:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= 1.0:
            break
    return last


def _burst(count: int, small: int) -> tuple[float, float, float]:
    """(rate of ``small``, rate of ``count``, peak RSS MB during the burst), on a fresh
    node."""
    with running_node("b4-burst", settings=SETTINGS) as node:
        node.queue("wide", CONCURRENCY)
        node.workflow("burst", one_task_workflow(queue="wide"))
        engine = node.process.pid
        _rate(node, 50)  # warm-up: imports, caches
        small_rate = max(_rate(node, small) for _ in range(2))
        samples: list[int] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_peak_rss, args=(engine, stop, samples))
        sampler.start()
        try:
            large = _rate(node, count)
        finally:
            stop.set()
            sampler.join()
        return small_rate, large, max(samples, default=0) / 1024


def _queued(count: int) -> float:
    """KB of engine RSS per instance waiting in a held queue, on a fresh node."""
    with running_node("b4-queued", settings=SETTINGS) as node:
        node.queue("held", 1)
        node.workflow("blocker", one_task_workflow(node.task_script("block", "sleep 3600"),
                                                   queue="held"))
        node.workflow("waiting", one_task_workflow(queue="held"))
        engine = node.process.pid
        reply = node.wire.call(b"<instance action='launch' name='blocker'/>")
        blocker = reply.split(b'workflow-instance-id="', 1)[1].split(b'"', 1)[0]
        try:
            while node.running() < 1:
                time.sleep(0.01)
            before = _settled_rss(engine)
            node.wire.pipeline(b"<instance action='launch' name='waiting'/>", count, WINDOW)
            after = _settled_rss(engine)
        finally:  # its task would outlive the node (tasks survive their engine)
            node.wire.call(b"<instance action='kill' id='" + blocker + b"'/>")
        return (after - before) / count


def measure(count: int, small: int = SMALL) -> tuple[float, float, float, float]:
    """(rate of ``small``, rate of ``count``, KB per queued instance, peak RSS MB during the
    burst), each on a fresh node."""
    small_rate, large, peak = _burst(count, small)
    return small_rate, large, _queued(count), peak


def run(quick: bool = False, runs: int = 1, *, tiny: bool = False) -> list[Figure]:
    """B4's figures (``runs`` fresh nodes; ``quick`` launches 5,000 instead of 10,000;
    ``tiny`` 200 against 50, to check that the benchmark works: figures meaningless)."""
    count, small = (200, 50) if tiny else (5000 if quick else 10_000, SMALL)
    results = [measure(count, small) for _ in range(runs)]
    return [
        Figure("B4", f"{count} launched at once, concurrency {CONCURRENCY}", "inst/s",
               [r[1] for r in results], floor=max(r[0] for r in results),
               floor_name=f"{small} launched",
               note="target: ratio ≥ 0.9"),
        Figure("B4", "engine memory per queued instance", "KB", [r[2] for r in results],
               higher_is_better=False, target=5.0,
               note=f"{count} instances waiting in a queue"),
        Figure("B4", f"engine peak RSS during the {count} burst", "MB",
               [r[3] for r in results], higher_is_better=False),
    ]


def main() -> None:
    """``python bench/b4_scale.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 instances")
    parser.add_argument("--runs", type=int, default=1, help="fresh nodes to measure")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
