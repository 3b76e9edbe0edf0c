"""Prefect peer: the B1/B2/B3 workloads on Prefect with its default SQLite store (run by
``bench/peers.py`` in a separate virtualenv, never the project's, with PREFECT_HOME in a
temporary directory). ``python prefect_flows.py COUNT FAN_SCRIPT FAN`` runs the three and
prints one JSON line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

__all__ = ["chain40", "fan", "many", "run", "timed"]


@task
def run(path: str) -> int:
    """Run one program, as a shell task would be run."""
    return subprocess.run([path], check=False).returncode


@flow(task_runner=ThreadPoolTaskRunner(max_workers=16))
def many(count: int) -> None:
    futures = [run.submit("/bin/true") for _ in range(count)]
    for future in futures:
        future.result()


@flow
def chain40() -> None:
    for _ in range(40):
        run("/bin/true")


@flow(task_runner=ThreadPoolTaskRunner(max_workers=16))
def fan(path: str, width: int) -> None:
    run(path)
    futures = [run.submit(path) for _ in range(width)]
    for future in futures:
        future.result()
    run(path)


def timed(function, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


if __name__ == "__main__":
    # prefect_flows.py COUNT FAN_SCRIPT FAN: B1, B2 and B3 in one process (its start-up and
    # temporary server are paid once, by the warm-up, and not counted).
    count, script, width = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    chain40()  # warm-up: database, server, imports
    print(json.dumps({"b1": count / timed(many, count), "b2": timed(chain40),
                      "b3": timed(fan, script, width)}))
