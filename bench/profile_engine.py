"""Profile the engine with py-spy while it runs the B1 or B5 workload, and say where its CPU
goes.

``python bench/profile_engine.py b1 [--count 2000] [--level 2] [--backend sqlite] [--out prof.txt]``
``python bench/profile_engine.py b5 [--count 3000]``

- b1: ``count`` one-task ``/bin/true`` instances launched pipelined on a queue of
  concurrency 16 (SQLite, savepoint level 2), until all ended.
- b5: ``count`` pipelined pings, then ``count // 10`` pipelined async launches.

py-spy (``pip install py-spy`` into the virtualenv; it needs ptrace rights over the engine:
root, or ``kernel.yama.ptrace_scope=0``) samples the engine with ``--gil`` (only samples
where a thread holds the GIL: CPU work in Python) at 250 Hz, raw output (one folded stack a
line). The summary puts each sample in the first group its stack belongs to (innermost
frames first: the store, lxml and XPath, the API, …) and lists the innermost evqueue
functions and the innermost frames that cost the most.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from common import one_task_workflow, running_node

__all__ = ["GROUPS", "main", "summarise"]

#: (group, pattern on a frame's file): a sample goes to the group of its innermost frame
#: that matches one (frames are tried from the innermost out).
GROUPS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern)) for name, pattern in (
        ("store: SQLAlchemy, driver, storage verbs",
         r"sqlalchemy/|sqlite3|asyncpg|pymysql|greenlet|evqueue/storage/"),
        ("instance state machine: lxml, XPath, jobs, tasks",
         r"lxml|elementpath|evqueue/model/|evqueue/engine/(instance|jobs|conditions|values|"
         r"outputs|task_retry|tree|statuses|instance_state)"),
        ("XML API: framing, dispatch, responses",
         r"evqueue/(protocol|api)/|evqueue/server/api_server"),
        ("gatherer thread, process manager, forker pipe", r"evqueue/process/"),
        ("engine bookkeeping: queues, tids, savepoints, events",
         r"evqueue/engine/|evqueue/server/engine_ports|evqueue/services/"),
        ("asyncio loop", r"asyncio/|selectors"),
        ("logging", r"logging/"),
    ))

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _frames(stack: str) -> list[tuple[str, str]]:
    """(function, file) of each frame of a folded stack, outermost first."""
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part.strip())
        if match:
            frames.append((match["func"], match["file"]))
    return frames


def summarise(raw: Path, top: int = 25) -> str:
    """The report of a raw py-spy profile: shares per group, innermost evqueue functions,
    innermost frames."""
    groups: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        inner = list(reversed(frames))
        group = next((name for _, file in inner for name, pattern in GROUPS
                      if pattern.search(file)), "the rest")
        groups[group] += count
        evq = next(((func, file) for func, file in inner if "evqueue/" in file), None)
        if evq is not None:
            own[f"{evq[0]} ({evq[1].split('evqueue/', 1)[1]})"] += count
        if inner:
            func, file = inner[0]
            leaves[f"{func} ({file.rsplit('/', 2)[-2:][-1] if '/' in file else file})"] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "share  group"]
    lines += [f"{100 * n / total:4.0f} %  {name}" for name, n in groups.most_common()]
    lines += ["", "share  innermost evqueue function (with what it calls)"]
    lines += [f"{100 * n / total:4.1f} %  {name}" for name, n in own.most_common(top)]
    lines += ["", "share  innermost frame"]
    lines += [f"{100 * n / total:4.1f} %  {name}" for name, n in leaves.most_common(top)]
    return "\n".join(lines)


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def main() -> None:
    """Run a workload under py-spy and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=("b1", "b5"))
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--level", type=int, default=2, help="savepoint level")
    parser.add_argument("--backend", default="sqlite",
                        choices=("sqlite", "postgresql", "mariadb"), help="the store")
    parser.add_argument("--out", default="", help="keep the raw profile in this file")
    parser.add_argument("--rate", type=int, default=250, help="samples per second")
    args = parser.parse_args()
    settings = {"workflowinstance.savepoint.level": str(args.level)}
    with running_node("profile", backend=args.backend, settings=settings) as node:
        node.queue("q", 16)
        node.workflow("w", one_task_workflow())
        launch = b"<instance action='launch' name='w'/>"
        node.wire.pipeline(launch, 100)  # warm-up
        node.wait_idle()
        raw = Path(args.out) if args.out else node.directory / "profile.txt"
        spy = subprocess.Popen([_py_spy(), "record", "--gil", "-r", str(args.rate), "-f", "raw",
                                "-o", str(raw), "-p", str(node.process.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches
        start = time.perf_counter()
        if args.workload == "b1":
            node.wire.pipeline(launch, args.count)
            node.wait_idle()
        else:
            node.wire.pipeline(b"<ping/>", args.count)
            node.wire.pipeline(launch, args.count // 10)
            node.wait_idle()
        elapsed = time.perf_counter() - start
        spy.send_signal(2)  # SIGINT: py-spy writes the profile and exits
        _, errors = spy.communicate(timeout=60)
        if not raw.exists():
            raise SystemExit(f"py-spy wrote nothing: {errors.decode(errors='replace')}")
        print(f"# {args.workload}, {args.count} requests, {elapsed:.1f} s")
        print(summarise(raw))


if __name__ == "__main__":
    main()
