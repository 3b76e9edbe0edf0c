"""Kill the node that fires a cluster-wide schedule again and again; count due times, fires,
duplicates and missed ones.

The long version of ``tests/reliability/test_cluster_faults.py``. ``--nodes`` nodes share
one store (a SQLite file of the run's directory, or ``--db-url``) and one workflow schedule
of node ``any`` due every 2 s, whose task appends its instance id to a file and sleeps
0.6 s. With ``--skew S`` the nodes' scheduler clocks are spread from +S to -S seconds
(``EVQUEUE_CLOCK_OFFSET``). Every ``--min-up`` … ``--max-up`` seconds one node is killed
with ``kill -9``:

- usually the node that fires the current due time, while its task runs and the store knows
  it (the node that "holds" the schedule);
- with probability ``--at-due``, a random node at the instant its own clock reaches a due
  time (+0…30 ms), which aims at the moment between its claim of the due time and the
  record of its instance.

The killed node restarts after 0 … ``--max-down`` seconds (it resumes its run); at least one
node always runs. In the end, once the node behind has claimed every due time so far, the
schedule is locked, every run ends, and the probe counts, over the span of the claimed due
times, due times, fires, duplicates (store and task side) and missed due times.

Example::

    python -m tests.soak.cluster_faults --minutes 4 --skew 5 --json cluster.json
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.e2e.nodes import Node
from tests.reliability.test_cluster_faults import PERIOD, ScheduleProbe, clock_offset
from tests.soak.common import add_common_arguments, report

__all__ = ["main"]


def _offsets(count: int, skew: float) -> list[float]:
    """Clock offsets spread evenly from ``+skew`` to ``-skew`` (all 0 without skew)."""
    if count == 1:
        return [0.0]
    return [skew - 2 * skew * i / (count - 1) for i in range(count)]


def _start(node: Node, offset: float) -> float:
    """Start ``node`` with its scheduler clock ``offset`` seconds off; returns the seconds
    the start took."""
    began = time.monotonic()
    with clock_offset(offset):
        node.start()
    return time.monotonic() - began


def _kill_at_due(nodes: list[Node], offsets: dict[str, float], rng: random.Random) -> Node:
    """``kill -9`` a random running node when its own clock reaches a due time."""
    victim = rng.choice(nodes)
    offset = offsets[victim.name]
    now = time.time()
    wait = (-(now + offset)) % PERIOD + rng.uniform(0, 0.03)
    time.sleep(wait)
    victim.stop(signal.SIGKILL)
    return victim


def _run(args: argparse.Namespace, directory: Path) -> dict[str, object]:
    rng = random.Random(args.seed)
    db_url = args.db_url or f"sqlite:///{directory / 'evqueue.db'}"
    names = [f"n{i + 1}" for i in range(args.nodes)]
    offsets = dict(zip(names, _offsets(args.nodes, args.skew), strict=True))
    nodes = {name: Node(directory / name, name=name, db_url=db_url,
                        settings={"gc.enable": "no"}) for name in names}
    probe = ScheduleProbe(db_url, directory / "tick")
    kills = {"while its task runs": 0, "at a due time": 0}
    restarts: list[float] = []
    begin = time.monotonic()
    try:
        probe.seed()
        for name in names:
            _start(nodes[name], offsets[name])
        deadline = time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(args.min_up, args.max_up))
            running = [node for node in nodes.values() if node.process is not None]
            if rng.random() < args.at_due:
                victim = _kill_at_due(running, offsets, rng)
                kills["at a due time"] += 1
            else:
                victim = probe.kill_holder({node.name: node for node in running}, timeout=30)
                kills["while its task runs"] += 1
            time.sleep(rng.uniform(0, args.max_down))
            restarts.append(_start(victim, offsets[victim.name]))
            print(f"{time.monotonic() - begin:6.0f} s: killed and restarted {victim.name}, "
                  f"{len(probe.fires())} due times claimed", flush=True)
        probe.wait_caught_up(datetime.datetime.now(), timeout=args.skew + PERIOD * 5)
        probe.finish(nodes.values(), timeout=120)
        tally = probe.tally()
    finally:
        for node in nodes.values():
            with contextlib.suppress(ProcessLookupError):
                node.stop()
            node.remove_ipc_queue()
        probe.close()
    for problem in tally.problems[:30]:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return {
        "minutes": args.minutes, "nodes": args.nodes,
        "clock offsets (s)": ", ".join(f"{name} {offsets[name]:+g}" for name in names),
        **{f"kill -9 {kind}": count for kind, count in kills.items()},
        "restart seconds (mean)": statistics.mean(restarts) if restarts else 0.0,
        "restart seconds (max)": max(restarts, default=0.0),
        "due times": tally.due_times, "fires": tally.fires,
        "duplicates": tally.duplicates, "missed": tally.missed,
        "claimed, never launched": tally.claimed_not_launched,
        "launched, id not recorded": tally.launched_not_recorded,
        "task runs": tally.task_runs, "tasks run twice": tally.tasks_doubled,
        "tasks never run": tally.tasks_missing, "runs not ended": tally.not_terminated,
        "fires by node": ", ".join(f"{n} {c}" for n, c in sorted(tally.fires_by_node.items())),
        "run seconds": time.monotonic() - begin,
        "problems": len(tally.problems),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4, help="length of the kill loop")
    parser.add_argument("--nodes", type=int, default=3, help="nodes sharing the schedule")
    parser.add_argument("--skew", type=float, default=0.0,
                        help="clock offsets spread from +SKEW to -SKEW seconds")
    parser.add_argument("--min-up", type=float, default=2.0, help="shortest time between kills")
    parser.add_argument("--max-up", type=float, default=6.0, help="longest time between kills")
    parser.add_argument("--max-down", type=float, default=3.0, help="longest time down (s)")
    parser.add_argument("--at-due", type=float, default=0.3,
                        help="fraction of kills aimed at a due time rather than a running task")
    parser.add_argument("--db-url", help="shared store (default: a SQLite file of the run)")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    if args.nodes < 2:
        parser.error("--nodes must be at least 2 (one node always runs)")
    directory = Path(tempfile.mkdtemp(prefix="evq-soak-"))
    try:
        figures = _run(args, directory)
    finally:
        if args.keep:
            print(f"run directory kept: {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    report(f"Cluster faults: {args.nodes} nodes, one 'any' schedule every {PERIOD} s, "
           f"{args.minutes:g} min of kill -9", figures, args.json)
    return 0 if not figures["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
