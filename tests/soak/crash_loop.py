"""Kill and restart the engine many times while 100 tasks run and 100 wait; count anomalies.

A node runs one-task instances in a queue of ``--running`` slots, topped up before every
cycle so that ``--running`` tasks run and ``--queued`` wait. Each task sleeps a random time
(``--task-min`` … ``--task-max`` s) and ends by itself. Every cycle lets the engine live a
random time (``--min-up`` … ``--max-up`` s), kills it (``kill -9``, or SIGTERM every third
cycle), waits a random time with no engine (tasks keep ending meanwhile), and restarts it.
Then every instance must end without error, with its task's output, and every task must have
started and ended exactly once (``tests/reliability/kit.py``).

``--settle`` waits, before each kill, until the store knows every launched instance and every
started task (the level-2 savepoint window): it separates that window from other causes.

Example::

    python -m tests.soak.crash_loop --cycles 20 --running 100 --queued 100 --json crash.json
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import sys
import time

from tests.e2e.nodes import wait_for
from tests.reliability.kit import Workload, admin
from tests.reliability.test_crash_loop import saved
from tests.soak.common import add_common_arguments, report, soak_node

__all__ = ["main"]


def _top_up(work: Workload, target: int, next_n: int, rng: random.Random,
            task_min: float, task_max: float) -> int:
    """Launch instances until ``target`` are unfinished; returns the next number to use."""
    unfinished = len(work.instances) - len(work.finished())
    numbers = list(range(next_n, next_n + max(0, target - unfinished)))
    for n in numbers:  # the gate is open before the task starts: it sleeps, then ends
        work.open([n], delay=rng.uniform(task_min, task_max))
    with admin(work.node) as client:
        work.launch(client, numbers)
    return next_n + len(numbers)


def _classify(problems: list[str]) -> dict[str, int]:
    kinds = {"lost (never ran)": 0, "ran twice or more": 0, "wrong result": 0}
    for problem in problems:
        if "started 0x" in problem:
            kinds["lost (never ran)"] += 1
        elif "started" in problem:
            kinds["ran twice or more"] += 1
        else:
            kinds["wrong result"] += 1
    return kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=20, help="kill/restart cycles")
    parser.add_argument("--running", type=int, default=100, help="tasks running at once")
    parser.add_argument("--queued", type=int, default=100, help="tasks waiting for a slot")
    parser.add_argument("--min-up", type=float, default=1.0, help="shortest engine life (s)")
    parser.add_argument("--max-up", type=float, default=5.0, help="longest engine life (s)")
    parser.add_argument("--max-down", type=float, default=2.0, help="longest time down (s)")
    parser.add_argument("--task-min", type=float, default=1.0, help="shortest task (s)")
    parser.add_argument("--task-max", type=float, default=8.0, help="longest task (s)")
    parser.add_argument("--settle", action="store_true",
                        help="before each kill, wait until the store knows every start")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    restarts: list[float] = []
    signals = {"SIGKILL": 0, "SIGTERM": 0}
    begin = time.monotonic()
    with soak_node(args.keep, settings={"gc.enable": "no",
                                        "network.connections.max": "256"}) as node:
        work = Workload(node, concurrency=args.running)
        try:
            with admin(node) as client:
                work.install(client)
            next_n = 0
            for cycle in range(args.cycles):
                next_n = _top_up(work, args.running + args.queued, next_n, rng,
                                 args.task_min, args.task_max)
                time.sleep(rng.uniform(args.min_up, args.max_up))
                if args.settle:
                    assert wait_for(lambda: saved(node, list(work.instances.values())), 30)
                    work.wait_recorded(60)
                sig = signal.SIGTERM if cycle % 3 == 2 else signal.SIGKILL
                signals[sig.name] += 1
                node.stop(sig, timeout=60)
                time.sleep(rng.uniform(0, args.max_down))
                start = time.monotonic()
                node.start()
                restarts.append(time.monotonic() - start)
                print(f"cycle {cycle + 1}/{args.cycles}: {sig.name}, {len(work.instances)} "
                      f"launched, {len(work.finished())} ended", flush=True)
            work.wait_finished(timeout=args.task_max * 4 + 300)
            with admin(node) as client:
                problems = work.verify(client)
        finally:
            work.release_all()
        lost_exits = node.output().count("exit of unknown task id")
    for problem in problems[:30]:
        print(f"PROBLEM {problem}", file=sys.stderr)
    figures: dict[str, object] = {
        "cycles": args.cycles, "kill -9": signals["SIGKILL"], "SIGTERM": signals["SIGTERM"],
        "instances": len(work.instances),
        "settled before kills": args.settle,
        "instances with a problem": len(problems),
        **_classify(problems),
        "exits of unknown tasks dropped": lost_exits,
        "restart seconds (mean)": statistics.mean(restarts),
        "restart seconds (max)": max(restarts),
        "run seconds": time.monotonic() - begin,
    }
    report(f"Crash loop: {args.running} running + {args.queued} queued, {args.cycles} cycles",
           figures, args.json)
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
