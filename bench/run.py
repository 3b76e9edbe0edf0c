"""Run every benchmark and print one table, then one JSON line per figure.

``python bench/run.py [--full | --tiny] [--only B1,B5,…] [--runs N] [--json FILE]
[--peer unix:///path | tcp://host:port]``

Each benchmark starts real nodes (``python -m evqueue``) in temporary directories and
measures its raw floor in the same run. By default the workloads are sized so that the whole
set runs in under 15 minutes on 2 cores (``--quick`` says the same); ``--full`` runs the full
workloads (B8 at 1 M rows). Where the machine is shared the best run and the spread are what
to read. ``--tiny`` runs a few requests of B1 (SQLite, level 2), B2 and B5, and short floors:
it checks that the benchmarks work, its figures mean nothing.

With ``--peer`` (or ``$EVQUEUE_BENCH_PEER``) B1, B2 and B5 also run on that evQueue (see
``evqueue_peer.py``), and their figures are printed with the peer's and evqueue / peer.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import b1_throughput
import b2_chain
import b3_fanout
import b4_scale
import b5_api
import b6_recovery
import b8_history
import b9_footprint
import peers
from common import Figure, print_table
from evqueue_peer import Peer, add_peer_arguments, peer_from_arguments
from floors import commit_floor, interpreter_floor, spawn_floor, task_cpu_floor

__all__ = ["BENCHES", "Options", "machine", "main"]


@dataclass(frozen=True)
class Options:
    """How the benchmarks run: workload size, runs per figure, the evQueue peer if any."""

    quick: bool = True
    runs: int = 2
    tiny: bool = False
    peer: Peer | None = None


BENCHES: dict[str, Callable[[Options], list[Figure]]] = {
    "B1": lambda o: b1_throughput.run(o.quick, o.runs, peer=o.peer, tiny=o.tiny),
    "B2": lambda o: b2_chain.run(o.quick, max(o.runs, 3), peer=o.peer, tiny=o.tiny),
    "B3": lambda o: b3_fanout.run(o.quick, o.runs),
    "B4": lambda o: b4_scale.run(o.quick, 1, tiny=o.tiny),
    "B5": lambda o: b5_api.run(o.quick, o.runs, peer=o.peer, tiny=o.tiny),
    "B6": lambda o: b6_recovery.run(o.quick, o.runs),
    "B8": lambda o: b8_history.run(o.quick, 20),
    "B9": lambda o: b9_footprint.run(o.quick, o.runs),
    "peers": lambda o: peers.run(o.quick, 1 if o.quick else o.runs),
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


def floors(tiny: bool = False) -> list[Figure]:
    """The raw floors every figure is read against (``tiny``: short, SQLite only)."""
    from common import backend_available, scratch_database, temp_directory

    scale = 10 if tiny else 1
    figures = [
        Figure("floor", "spawn+reap /bin/true, 1 thread", "1/s",
               [spawn_floor(500 // scale) for _ in range(3)]),
        Figure("floor", "spawn+reap /bin/true, 16 in flight", "1/s",
               [spawn_floor(1000 // scale, 16) for _ in range(3)]),
        Figure("floor", "new Python interpreter", "s", [interpreter_floor(2 if tiny else 5)],
               higher_is_better=False),
        Figure("floor", "a task's own CPU, /bin/true (wait4)", "ms",
               [task_cpu_floor(300 // scale) for _ in range(2)], higher_is_better=False),
    ]
    for backend in ("sqlite",) if tiny else ("sqlite", "postgresql", "mariadb"):
        reason = backend_available(backend)
        if reason:
            figures.append(Figure("floor", f"one-row commits, {backend}", "1/s", [],
                                  note=f"skipped: {reason}"))
            continue
        runs = []
        for _ in range(2):
            with temp_directory("floor") as directory, \
                    scratch_database(backend, directory) as url:
                runs.append(commit_floor(url, 2000 // scale, directory))
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
    size.add_argument("--tiny", action="store_true",
                      help="a few requests of B1 (SQLite), B2, B5: checks the benchmarks work")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(BENCHES))
    parser.add_argument("--runs", type=int, default=2, help="runs per figure (best is kept)")
    parser.add_argument("--json", default="", help="also write the JSON lines to this file")
    add_peer_arguments(parser)
    args = parser.parse_args(argv)
    options = Options(quick=not args.full, runs=args.runs, tiny=args.tiny,
                      peer=peer_from_arguments(args))
    selected = [name.strip() for name in args.only.split(",") if name.strip()] or list(BENCHES)
    print(f"# machine: {machine()}", flush=True)
    if options.peer is not None:
        print(f"# peer: {options.peer}", flush=True)
    figures = floors(args.tiny)
    failed = False
    for name in selected:
        started = time.perf_counter()
        try:
            figures += BENCHES[name](options)
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
