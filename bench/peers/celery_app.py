"""Celery peer: the B1/B2/B3 workloads on Celery with Redis (run by ``bench/peers.py`` in a
separate virtualenv, never the project's). ``celery -A celery_app worker`` loads this module;
``python celery_app.py COUNT [FAN_SCRIPT FAN]`` runs B1 (and B2, B3) and prints one JSON
line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from celery import Celery, chain, chord, group

__all__ = ["app", "chain40", "fan", "join", "run", "throughput"]

QUEUE = os.environ.get("EVQBENCH_QUEUE", "evqbench")
app = Celery("evqbench", broker="redis://127.0.0.1:6379/14",
             backend="redis://127.0.0.1:6379/14")
app.conf.task_default_queue = QUEUE
app.conf.worker_prefetch_multiplier = 1
app.conf.result_expires = 600


@app.task(name="evqbench.run")
def run(path: str) -> int:
    """Run one program, as a shell task would be run."""
    return subprocess.run([path], check=False).returncode


@app.task(name="evqbench.join")
def join(_results: list[int], path: str) -> int:
    """The fan-in task of B3 (a chord's body gets the header's results)."""
    return subprocess.run([path], check=False).returncode


def throughput(count: int) -> float:
    start = time.perf_counter()
    results = [run.delay("/bin/true") for _ in range(count)]
    for result in results:
        result.get(timeout=600)
    return count / (time.perf_counter() - start)


def chain40() -> float:
    start = time.perf_counter()
    chain(*(run.si("/bin/true") for _ in range(40))).apply_async().get(timeout=600)
    return time.perf_counter() - start


def fan(path: str, width: int) -> float:
    start = time.perf_counter()
    workflow = chain(run.si(path), chord(group(run.si(path) for _ in range(width)),
                                         join.s(path)))
    workflow.apply_async().get(timeout=600)
    return time.perf_counter() - start


if __name__ == "__main__":
    # celery_app.py COUNT [FAN_SCRIPT FAN]: B1, then B2 and B3 when a fan is given.
    run.delay("/bin/true").get(timeout=120)  # warm-up: the worker is ready
    values = {"b1": throughput(int(sys.argv[1]))}
    if len(sys.argv) > 2:
        values.update(b2=chain40(), b3=fan(sys.argv[2], int(sys.argv[3])))
    print(json.dumps(values))
