"""Take the store away for a while in the middle of a run; measure what the node does.

Backends: ``postgresql`` and ``mariadb`` (a private server of this run, stopped for
``--outage`` seconds and started again) and ``sqlite`` (another process holds the file with
``BEGIN EXCLUSIVE`` for that long).

``--instances`` one-task instances are launched; their tasks sleep a random time, so many end
during the outage. While the store is away the script measures the API (ping, a running
instance's query, ``status``: the slowest answer) and tries one launch in the background.
Afterwards it waits until every instance has ended in the store and runs the exactly-once
check (``tests/reliability/kit.py``). ``--retry-forever`` sets
``workflowinstance.savepoint.retry.times=0``; by default the node runs with the default
retries (2 more tries, 2 s apart).

Example::

    python -m tests.soak.db_outage --backend postgresql --outage 30 --json pg.json
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from tests.e2e.nodes import Node
from tests.reliability.kit import Workload, admin
from tests.reliability.test_db_faults import LOCKER
from tests.soak.common import add_common_arguments, report, soak_node
from tests.soak.dbservers import DbServer, server_for

__all__ = ["main"]


class SqliteLock:
    """The SQLite store held by another process (``BEGIN EXCLUSIVE``) between stop and start."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.process: subprocess.Popen[str] | None = None

    def stop(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", LOCKER, str(self.database)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def start(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        self.process.wait(60)


def _launch_during_outage(client: Client, work: Workload, n: int) -> tuple[str, float]:
    start = time.monotonic()
    try:
        work.launch(client, [n])
        return "OK", time.monotonic() - start
    except (ApiError, OSError) as error:
        return f"KO: {getattr(error, 'message', error)}", time.monotonic() - start


def _login_during_outage(node: Node) -> str:
    try:
        admin(node).close()
        return "OK"
    except (ApiError, OSError) as error:
        return f"KO: {getattr(error, 'message', error)}"


def _probe(client: Client, work: Workload, until: float) -> tuple[float, int, int]:
    """Query the node until ``until`` on a connection logged in before: (slowest answer s,
    answers, errors)."""
    slowest, answers, errors = 0.0, 0, 0
    ids = list(work.instances.values())
    while time.monotonic() < until:
        start = time.monotonic()
        for request in ("<ping/>", f"<instance action='query' id='{ids[answers % len(ids)]}'/>",
                        "<status action='query' type='workflows'/>"):
            try:
                client.exec(request)
                answers += 1
            except ApiError:
                errors += 1
        slowest = max(slowest, time.monotonic() - start)
        time.sleep(0.2)
    return slowest, answers, errors


def run(args: argparse.Namespace) -> dict[str, object]:
    server: DbServer | None = None if args.backend == "sqlite" else server_for(args.backend)
    settings = {"gc.enable": "no"}
    if args.retry_forever:
        settings["workflowinstance.savepoint.retry.times"] = "0"
    rng = random.Random(args.seed)
    try:
        with soak_node(args.keep, db_url=server.url if server else None,
                       settings=settings) as node, ThreadPoolExecutor(1) as pool:
            fault = server or SqliteLock(Path(node.directory) / "evqueue.db")
            work = Workload(node, concurrency=args.instances + 1)
            try:
                with admin(node) as client:
                    work.install(client)
                    numbers = range(args.instances)
                    for n in numbers:  # most tasks end during the outage
                        work.open([n], delay=rng.uniform(1, args.outage))
                    work.launch(client, numbers)
                work.wait_started(args.instances)
                prober, launcher = admin(node, timeout=120), admin(node, timeout=900)
                down_at = time.monotonic()
                fault.stop()
                launched = pool.submit(_launch_during_outage, launcher, work, args.instances)
                ended_before = len(work.ended())
                login = _login_during_outage(node)
                slowest, answers, errors = _probe(prober, work, down_at + args.outage)
                ended_during = len(work.ended()) - ended_before
                fault.start()
                up_at = time.monotonic()
                work.open([args.instances])
                outcome, launch_took = launched.result(timeout=900)
                prober.close()
                launcher.close()
                recovered = True
                try:
                    work.wait_finished(timeout=args.outage * 4 + 120)
                except AssertionError as missing:
                    recovered = False
                    print(f"NOT RECOVERED: {missing}", file=sys.stderr)
                settled = time.monotonic() - up_at
                with admin(node) as client:
                    problems = work.verify(client)
            finally:
                work.release_all()
            log = node.output()
            alive = node.process is not None and node.process.poll() is None
    finally:
        if server is not None:
            server.close()
    for problem in problems[:20]:
        print(f"PROBLEM {problem}", file=sys.stderr)
    return {
        "backend": args.backend, "outage seconds": args.outage,
        "savepoint retries": "forever" if args.retry_forever else "default (2 more, 2 s apart)",
        "instances": len(work.instances), "tasks ended during the outage": ended_during,
        "API answers during the outage": answers, "API errors during the outage": errors,
        "slowest API round during the outage (s)": slowest,
        "new login during the outage": login,
        "launch during the outage": outcome, "that launch answered after (s)": launch_took,
        "all instances ended in the store": recovered,
        "seconds from store back to all ended": settled,
        "instances with a problem": len(problems),
        "transient DB errors logged": log.count("transient database error"),
        "savepoint batches given up": log.count("not stored, tried again") + log.count("dropped"),
        "node alive at the end": alive,
        "detail": "; ".join(problems[:3]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("postgresql", "mariadb", "sqlite"),
                        default="postgresql")
    parser.add_argument("--outage", type=float, default=30.0, help="seconds without a store")
    parser.add_argument("--instances", type=int, default=40, help="instances in flight")
    parser.add_argument("--retry-forever", action="store_true",
                        help="workflowinstance.savepoint.retry.times = 0")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    figures = run(args)
    report(f"Store outage: {args.backend}, {args.outage:g} s", figures, args.json)
    return 0 if figures["instances with a problem"] == 0 and figures["node alive at the end"] \
        else 1


if __name__ == "__main__":
    sys.exit(main())
