"""Peers: the B1, B2 and B3 workloads on Prefect (SQLite) and Celery (Redis), with the same
programs as tasks.

The peers are never installed in the project's virtualenv: they run from a separate one
(``$EVQBENCH_PEERS_VENV``, default ``/tmp/evq-bench-peers``; create it with
``python3 -m venv /tmp/evq-bench-peers && /tmp/evq-bench-peers/bin/pip install prefect
'celery[redis]'``). A peer that is not installed there, or a Redis that does not answer on
127.0.0.1:6379, is skipped with the reason printed; nothing is ever made up.

- Celery: a worker (``-c 8`` or ``-c 16``, prefork) on a queue of its own; B1 is N
  ``/bin/true`` tasks sent with ``delay`` and waited for; B2 a ``chain`` of 40; B3 a task,
  then a ``chord`` of 1000 and its body.
- Prefect: B1 is N task runs submitted in one flow (thread pool of 16; a flow run per
  instance would be slower still); B2 a flow of 40 sequential task calls; B3 the 1 → 1000 → 1
  shape with 16 threads. Flows run in-process against Prefect's own temporary server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from b2_chain import LENGTH
from b3_fanout import WIDTH, max_running, task_script
from common import Figure, print_table

__all__ = ["run"]

HERE = Path(__file__).resolve().parent / "peers"
VENV = Path(os.environ.get("EVQBENCH_PEERS_VENV", "/tmp/evq-bench-peers"))
TIMEOUT = 600


def _installed(package: str) -> str:
    """"" when ``package`` imports in the peers' virtualenv, else why not."""
    python = VENV / "bin" / "python"
    if not python.exists():
        return f"no virtualenv at {VENV} (see bench/peers.py to create it)"
    probe = subprocess.run([str(python), "-c", f"import {package}"], capture_output=True,
                           text=True)
    if probe.returncode:
        return f"{package} is not installed in {VENV}"
    return ""


def _redis() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), 1).close()
    except OSError as exc:
        return f"Redis not reachable on 127.0.0.1:6379: {exc}"
    return ""


def _peer(script: str, args: list[str], env: dict[str, str]) -> dict[str, float]:
    done = subprocess.run([str(VENV / "bin" / "python"), script, *args], cwd=HERE, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode:
        raise RuntimeError(f"{script} {args} failed:\n{done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class _CeleryWorker:
    def __init__(self, concurrency: int) -> None:
        self.env = dict(os.environ, EVQBENCH_QUEUE=f"evqbench-{uuid.uuid4().hex[:8]}")
        self.process = subprocess.Popen(
            [str(VENV / "bin" / "celery"), "-A", "celery_app", "worker", "-c",
             str(concurrency), "-Q", self.env["EVQBENCH_QUEUE"], "--pool", "prefork",
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
            cwd=HERE, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _fan_script(peer: str, directory: Path) -> tuple[Path, Path]:
    log = directory / f"{peer}.log"
    script = directory / f"{peer}.sh"
    script.write_text("#!/bin/bash\n" + task_script(log))
    script.chmod(0o755)
    return script, log


def _figures(peer: str, fan: int, results: list[tuple[dict[str, float], int]]) -> list[Figure]:
    """B2/B3 figures from runs that have them ((values, peak) pairs)."""
    return [
        Figure("peers", f"{peer} B2 chain of {LENGTH}", "s", [r["b2"] for r, _ in results],
               higher_is_better=False),
        Figure("peers", f"{peer} B3 1 → {fan} → 1 makespan", "s",
               [r["b3"] for r, _ in results], higher_is_better=False),
        Figure("peers", f"{peer} B3 most tasks running at once (worst run)", "tasks",
               [max(p for _, p in results)], higher_is_better=False,
               extra={"runs": [p for _, p in results]}),
    ]


def _celery(count: int, fan: int, runs: int, directory: Path) -> list[Figure]:
    script, log = _fan_script("celery", directory)
    figures = []
    for concurrency in (8, WIDTH):
        worker = _CeleryWorker(concurrency)
        try:
            extra = [str(script), str(fan)] if concurrency == WIDTH else []
            results = []
            for _ in range(runs):
                log.write_text("")
                values = _peer("celery_app.py", [str(count), *extra], worker.env)
                results.append((values, max_running(log)[0] if extra else 0))
        finally:
            worker.close()
        figures.append(Figure("peers", f"Celery B1 concurrency {concurrency}", "inst/s",
                              [r["b1"] for r, _ in results], extra={"count": count}))
        if extra:
            figures += _figures("Celery", fan, results)
    return figures


def _prefect(count: int, fan: int, runs: int, directory: Path) -> list[Figure]:
    env = dict(os.environ, PREFECT_HOME=str(directory / "prefect"),
               PREFECT_LOGGING_LEVEL="WARNING", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="300")
    script, log = _fan_script("prefect", directory)
    results = []
    for _ in range(runs):
        log.write_text("")
        values = _peer("prefect_flows.py", [str(count), str(script), str(fan)], env)
        results.append((values, max_running(log)[0]))
    return [Figure("peers", "Prefect B1 (task runs in one flow, 16 threads)", "inst/s",
                   [r["b1"] for r, _ in results], extra={"count": count}),
            *_figures("Prefect", fan, results)]


def run(quick: bool = False, runs: int = 2) -> list[Figure]:
    """Every peer figure, or a skipped line per peer."""
    count, fan = (200, 300) if quick else (1000, 1000)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="evqbench-peers-") as name:
        directory = Path(name)
        for peer, reason, measure in (
            ("Celery", _installed("celery") or _redis(), _celery),
            ("Prefect", _installed("prefect"), _prefect),
        ):
            if reason:
                figures.append(Figure("peers", peer, "", [], note=f"skipped: {reason}"))
                continue
            started = time.perf_counter()
            try:
                figures += measure(count, fan, runs, directory)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                figures.append(Figure("peers", peer, "", [], note=f"failed: {exc}"[:500]))
            print(f"# {peer}: {time.perf_counter() - started:.0f} s", flush=True)
    return figures


def main() -> None:
    """``python bench/peers.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer tasks")
    parser.add_argument("--runs", type=int, default=2, help="runs per figure")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
