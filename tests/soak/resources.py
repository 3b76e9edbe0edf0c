"""Long resource run: leaks over many tasks and connections, memory for a huge task output.

Phases (``--phases``, all by default), on one node with the default configuration:

- ``tasks``: ``--tasks`` tasks (instances of 1 + 100 looped ``/bin/true`` tasks, 16 at once),
  sampling the engine's descriptors, resident memory and threads as they go; the figures are
  the samples half-way and at the end, and the growth per 10,000 tasks between them;
- ``connections``: ``--connections`` connections opened, logged in and closed, then the same
  samples;
- ``output``: one task printing ``--output-mb`` MB with the default ``datastore.db.maxsize``
  (50 MB): the engine's peak memory while it reads, stores and answers it.

Example::

    python -m tests.soak.resources --tasks 100000 --minutes 60 --connections 10000 --json res.json
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from evqueue.protocol import UnknownInstance
from tests.e2e.apiwire import Wire
from tests.e2e.nodes import Node, wait_for
from tests.reliability.kit import admin, sample
from tests.reliability.test_limits import LOOP, _children, peak_rss, task_files
from tests.security.kit import b64
from tests.soak.common import add_common_arguments, report, soak_node

__all__ = ["main"]

TASKS_PER_INSTANCE = 101


def tasks_phase(node: Node, tasks: int, figures: dict[str, object],
                minutes: float = 0.0) -> None:
    assert node.process is not None
    pid = node.process.pid
    forker = int((Path(node.directory) / "forker.pid").read_text())
    instances = max(2, tasks // TASKS_PER_INSTANCE)
    samples = []
    with admin(node, timeout=600) as client:
        client.exec("<queue action='create' name='wide' concurrency='16' scheduler='fifo'"
                    " dynamic='no'/>")
        client.exec(f"<workflow action='create' name='loop' content='{b64(LOOP)}'/>")
        start = time.monotonic()
        done = 0
        while done < instances or time.monotonic() - start < minutes * 60:
            batch = [client.exec("<instance action='launch' name='loop'/>").get(
                "workflow-instance-id") for _ in range(max(1, min(20, instances - done)))]
            for instance_id in batch:
                with contextlib.suppress(UnknownInstance):
                    client.exec(f"<instance action='wait' id='{instance_id}' timeout='600'/>")
            errors = [client.exec(f"<instance action='query' id='{i}'/>")[0].get("errors")
                      for i in batch]
            if errors != ["0"] * len(batch):
                figures["tasks: instances with errors"] = sum(e != "0" for e in errors)
            done += len(batch)
            samples.append((done * TASKS_PER_INSTANCE, sample(pid)))
            print(f"{done * TASKS_PER_INSTANCE} tasks, {samples[-1][1]}", flush=True)
        took = time.monotonic() - start
    wait_for(lambda: _children(forker) == [], 30)
    # Memory settles during the first tens of thousands of tasks (allocator pools, caches):
    # growth is measured over the second half of the run.
    first_tasks, first = samples[len(samples) // 2]
    last_tasks, last = samples[-1]
    growth = (last.rss_kb - first.rss_kb) / 1024
    per_10k = growth / max(1, last_tasks - first_tasks) * 10_000
    figures.update({
        "tasks: run": done * TASKS_PER_INSTANCE, "tasks: minutes": took / 60,
        "tasks: per second": done * TASKS_PER_INSTANCE / took,
        "tasks: engine fds at half-way / end": f"{first.fds} / {last.fds}",
        "tasks: engine RSS MB at half-way / end": f"{first.rss_kb / 1024:.1f} / "
                                                    f"{last.rss_kb / 1024:.1f}",
        "tasks: RSS growth MB per 10,000 tasks (2nd half)": per_10k,
        "tasks: engine threads at half-way / end": f"{first.threads} / {last.threads}",
        "tasks: forker fds at the end": sample(forker).fds,
        "tasks: monitors left": len(_children(forker)),
        "tasks: task files left in the logs directory": len(task_files(node)),
    })


def connections_phase(node: Node, count: int, figures: dict[str, object]) -> None:
    assert node.process is not None
    pid = node.process.pid
    for _ in range(200):  # warm-up
        with Wire(node, "unix") as wire:
            wire.login()
    before = sample(pid)
    start = time.monotonic()
    for i in range(count):
        with Wire(node, "tcp" if i % 2 else "unix") as wire:
            wire.login()
            wire.send("<ping/>\n")
            wire.message()
    took = time.monotonic() - start
    wait_for(lambda: sample(pid).fds <= before.fds, 10)
    after = sample(pid)
    figures.update({
        "connections: opened and closed": count,
        "connections: per second": count / took,
        "connections: engine fds before / after": f"{before.fds} / {after.fds}",
        "connections: engine RSS MB before / after": f"{before.rss_kb / 1024:.1f} / "
                                                     f"{after.rss_kb / 1024:.1f}",
    })


def output_phase(node: Node, megabytes: int, figures: dict[str, object]) -> None:
    assert node.process is not None
    flood = ("<workflow><subjobs><job><tasks><task name='flood' queue='default' "
             f"path='/bin/sh'><input>-c</input><input>head -c {megabytes * 1024 * 1024} "
             "/dev/zero | tr '\\000' x</input></task></tasks></job></subjobs></workflow>")
    with admin(node, timeout=600) as client:
        client.exec(f"<workflow action='create' name='flood' content='{b64(flood)}'/>")
        with peak_rss(node.process.pid) as peak:
            start = time.monotonic()
            answer = client.exec("<instance action='launch' name='flood' mode='synchronous'/>")
            took = time.monotonic() - start
            instance = client.exec(f"<instance action='query' "
                                   f"id='{answer.get('workflow-instance-id')}'/>")[0]
    output = instance.find(".//task/output")
    figures.update({
        f"output: {megabytes} MB task, engine peak growth MB": peak.growth_mb,
        "output: engine RSS MB after": sample(node.process.pid).rss_kb / 1024,
        "output: seconds": took,
        "output: kept in": ("datastore" if output.get("datastore-id") else "instance XML"),
        "output: retval": output.get("retval"),
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="tasks in the tasks phase")
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="go on launching tasks until this long has passed, too")
    parser.add_argument("--connections", type=int, default=10_000,
                        help="connections in the connections phase")
    parser.add_argument("--output-mb", type=int, default=100, help="size of the huge output")
    parser.add_argument("--phases", default="tasks,connections,output",
                        help="comma-separated phases to run")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    figures: dict[str, object] = {}
    with soak_node(args.keep, settings={"gc.enable": "no"}) as node:
        assert node.process is not None
        figures["engine RSS MB at start"] = sample(node.process.pid).rss_kb / 1024
        if "tasks" in phases:
            tasks_phase(node, args.tasks, figures, args.minutes)
        if "connections" in phases:
            connections_phase(node, args.connections, figures)
        if "output" in phases:
            output_phase(node, args.output_mb, figures)
        figures["engine alive at the end"] = node.process.poll() is None
    report("Resources over a long run", figures, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
