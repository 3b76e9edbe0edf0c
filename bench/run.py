"""Run every benchmark and print one table, then one JSON line per figure.

``python bench/run.py [--full] [--only B1,B5,…] [--runs N] [--json FILE]``

Each benchmark starts real nodes (``python -m evqueue``) in temporary directories and
measures its raw floor in the same run. By default the workloads are sized so that the whole
set runs in under 15 minutes on 2 cores (``--quick`` says the same); ``--full`` runs the full
workloads (B8 at 1 M rows). Where the machine is shared the best run and the spread are what
to read.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable

import b1_throughput
import b2_chain
import b3_fanout
import b5_api
import b6_recovery
import b8_history
import b9_footprint
import peers
from common import Figure, print_table
from floors import commit_floor, interpreter_floor, spawn_floor

__all__ = ["BENCHES", "machine", "main"]

BENCHES: dict[str, Callable[[bool, int], list[Figure]]] = {
    "B1": lambda quick, runs: b1_throughput.run(quick, runs),
    "B2": lambda quick, runs: b2_chain.run(quick, max(runs, 3)),
    "B3": lambda quick, runs: b3_fanout.run(quick, runs),
    "B5": lambda quick, runs: b5_api.run(quick, runs),
    "B6": lambda quick, runs: b6_recovery.run(quick, runs),
    "B8": lambda quick, runs: b8_history.run(quick, 20),
    "B9": lambda quick, runs: b9_footprint.run(quick, runs),
    "peers": lambda quick, runs: peers.run(quick, 1 if quick else runs),
}


def machine() -> str:
    """One line describing this machine and its load."""
    load = os.getloadavg()
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{os.cpu_count()} cpu ({model}), Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, load average "
            f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def floors() -> list[Figure]:
    """The raw floors every figure is read against."""
    from common import backend_available, scratch_database, temp_directory

    figures = [
        Figure("floor", "spawn+reap /bin/true, 1 thread", "1/s",
               [spawn_floor(500) for _ in range(3)]),
        Figure("floor", "spawn+reap /bin/true, 16 in flight", "1/s",
               [spawn_floor(1000, 16) for _ in range(3)]),
        Figure("floor", "new Python interpreter", "s", [interpreter_floor()],
               higher_is_better=False),
    ]
    for backend in ("sqlite", "postgresql", "mariadb"):
        reason = backend_available(backend)
        if reason:
            figures.append(Figure("floor", f"one-row commits, {backend}", "1/s", [],
                                  note=f"skipped: {reason}"))
            continue
        runs = []
        for _ in range(2):
            with temp_directory("floor") as directory, \
                    scratch_database(backend, directory) as url:
                runs.append(commit_floor(url, 2000, directory))
        figures.append(Figure("floor", f"one-row commits, {backend}", "1/s", runs))
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; exit 1 if one of them failed."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true",
                      help="the full workloads (B8 at 1 M rows): half an hour or more")
    size.add_argument("--quick", action="store_true",
                      help="the default: workloads sized to run everything in under 15 min")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(BENCHES))
    parser.add_argument("--runs", type=int, default=2, help="runs per figure (best is kept)")
    parser.add_argument("--json", default="", help="also write the JSON lines to this file")
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHES)
    print(f"# machine: {machine()}", flush=True)
    figures = floors()
    failed = False
    for name in selected:
        started = time.perf_counter()
        try:
            figures += BENCHES[name](not args.full, args.runs)
        except Exception as exc:  # one failed benchmark must not hide the others' figures
            failed = True
            traceback.print_exc()
            figures.append(Figure(name, "failed", "", [], note=f"{type(exc).__name__}: {exc}"))
        print(f"# {name}: {time.perf_counter() - started:.0f} s", flush=True)
    print(f"# machine at the end: {machine()}")
    print_table(figures)
    if args.json:
        with open(args.json, "w") as out:
            out.write("".join(f.json_line() + "\n" for f in figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
