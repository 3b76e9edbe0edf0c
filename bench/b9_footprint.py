"""B9 footprint: memory and processes of a node, idle and with 100 running tasks.

- idle RSS: the engine process alone once it serves and has run one instance (imports and
  caches done); the forker is reported beside it.
- with 100 running tasks (``/bin/sleep``): the engine's RSS, and the node's processes: the
  engine, its helpers (processes that stay when no task runs: the forker), and per running
  task its monitor and the task itself. PSS (proportional set size) is summed too: a monitor
  shares most of its pages with the forker it was forked from.
The floor is a bare ``python -c`` interpreter's RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from common import Figure, one_task_workflow, print_table, running_node

__all__ = ["descendants", "run"]

TASKS = 100


def _status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    tree, found, todo = _children(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _forker_pid(node) -> int:  # type: ignore[no-untyped-def]
    return int((node.directory / "forker.pid").read_text().strip())


def run(quick: bool = False, runs: int = 2) -> list[Figure]:
    """B9 figures."""
    bare = subprocess.run([sys.executable, "-c", "print(open('/proc/self/status').read())"],
                          capture_output=True, text=True, check=True).stdout
    bare_kb = int(next(line for line in bare.splitlines() if line.startswith("VmRSS"))
                  .split()[1])
    idle, loaded, per_task, helpers, forker_kb, pss = [], [], [], [], [], []
    for _ in range(runs):
        with running_node("b9") as node:
            node.queue("q", TASKS + 28)
            node.workflow("w", one_task_workflow())
            node.wire.call(b"<instance action='launch' name='w' mode='synchronous'/>")
            time.sleep(1)
            engine = node.process.pid
            idle.append(_status_kb(engine, "VmRSS") / 1024)
            forker = _forker_pid(node)
            forker_kb.append(_status_kb(forker, "VmRSS") / 1024)
            at_rest = set(descendants(engine)) | {forker}
            helpers.append(len(at_rest))
            sleep = "<instance action='launch' name='sleep5'/>"
            node.workflow("sleep5", one_task_workflow("/bin/sleep").replace(
                "queue='q'/>", "queue='q'><input>5</input></task>"))
            for _ in range(TASKS):
                node.wire.call(sleep)
            deadline = time.monotonic() + 30
            while True:
                tree = set(descendants(engine)) | {forker} | set(descendants(forker))
                tasks = [p for p in tree if _comm(p) == "sleep"]
                if len(tasks) >= TASKS or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            loaded.append(_status_kb(engine, "VmRSS") / 1024)
            per_task.append((len(tree) - len(at_rest)) / max(1, len(tasks)))
            pss.append(sum(_pss_kb(p) for p in tree | {engine}) / 1024)
            node.wire.call(b"<instance action='launch' name='w' mode='synchronous'/>")
    return [
        Figure("B9", "idle RSS, engine", "MB", idle, higher_is_better=False,
               floor=bare_kb / 1024, floor_name="bare python", target=50),
        Figure("B9", "idle RSS, forker", "MB", forker_kb, higher_is_better=False, target=10),
        Figure("B9", "long-lived helper processes", "proc", helpers, higher_is_better=False,
               target=1),
        Figure("B9", f"RSS with {TASKS} running tasks, engine", "MB", loaded,
               higher_is_better=False),
        Figure("B9", f"PSS with {TASKS} running tasks, whole node", "MB", pss,
               higher_is_better=False),
        Figure("B9", "processes per running task", "proc", per_task, higher_is_better=False),
    ]


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def main() -> None:
    """``python bench/b9_footprint.py [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="same as without")
    parser.add_argument("--runs", type=int, default=2, help="nodes measured")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
