"""B6 recovery: the engine is killed (SIGKILL) while 100 tasks run, then restarted.

Each of 100 instances runs one bash task that appends ``S <id>`` to a log, sleeps, and
appends ``E <id>``. Once all 100 have started the engine gets SIGKILL; its monitors and tasks
go on. Two cases:

- ``ended while down``: the tasks (1 s) end before the restart; the figure is the time from
  the restart command until every instance is TERMINATED with its task's result recorded.
- ``running at restart``: the engine is restarted at once while the tasks (3 s) still run;
  the figure is the time from the tasks' last end until every result is recorded.

Lost: instances not TERMINATED, or whose task has no result, or a result other than 0.
Duplicated: tasks that started more than once (two ``S`` lines for an id). The floor is the
node's own start (restart command until it serves).

The node runs at savepoint level 3, where every change of a running instance is written
before the next one. Level 2 (the default) is run once too: it gathers most changes for a
savepoint window (20 ms), but a launch's row holds the instance from its first transaction
and a task's tid is stored before its process starts, so a kill inside the window loses
nothing either.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from pathlib import Path

from common import Figure, print_table, running_node
from lxml import etree

__all__ = ["run"]

COUNT = 100


def _workflow(script: str) -> str:
    task = (f"<task path='{script}' queue='q'><input name='id'>"
            f"<value select=\"evqGetWorkflowParameter('id')\"/></input></task>")
    return (f"<workflow><parameters><parameter name='id'/></parameters><subjobs><job name='j'>"
            f"<tasks>{task}</tasks></job></subjobs></workflow>")


def _lines(log: Path, kind: str) -> list[str]:
    try:
        return [line.split()[1] for line in log.read_text().splitlines()
                if line.startswith(kind + " ")]
    except FileNotFoundError:
        return []


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.005)


def _recorded(node, ids: list[int]) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """(instances TERMINATED with a task result, of which with retval 0)."""
    done = ok = 0
    for instance_id in ids:
        response = etree.fromstring(node.wire.call(f"<instance action='query' "
                                                   f"id='{instance_id}'/>"))
        if not len(response):
            continue  # no savepoint: ended by the restart without its result
        workflow = response[0]
        task = workflow.find(".//task")
        if workflow.get("status") == "TERMINATED" and task is not None \
                and task.get("retval") is not None:
            done += 1
            ok += task.get("retval") == "0"
    return done, ok


def one_case(sleep: float, wait_for_end: bool, level: int = 3) -> dict[str, float]:
    """Run one kill/restart case; return its figures."""
    settings = {"workflowinstance.savepoint.level": str(level)}
    with running_node("b6", settings=settings) as node:
        log = node.directory / "runs.log"
        script = node.task_script("job.sh", f'echo "S $1" >> {log}\n/bin/sleep {sleep}\n'
                                           f'echo "E $1" >> {log}', "/bin/bash")
        node.queue("q", COUNT + 28)
        node.workflow("r", _workflow(script))
        ids = [int(node.wire.call(f"<instance action='launch' name='r'><parameter name='id' "
                                  f"value='{i}'/></instance>").split(b'instance-id="')[1]
                   .split(b'"')[0]) for i in range(COUNT)]
        _wait(lambda: len(_lines(log, "S")) >= COUNT, 60, "tasks did not all start")
        node.forget_connection()
        os.kill(node.process.pid, signal.SIGKILL)
        node.process.wait()
        node.log.close()
        node.process = None
        if wait_for_end:
            _wait(lambda: len(_lines(log, "E")) >= COUNT, 60, "tasks did not all end")
        restart = time.perf_counter()
        node.start()
        serving = node.ready_at - restart
        _wait(lambda: node.running() == 0, 120, "instances still running after restart")
        recorded, recorded_wall = time.perf_counter(), time.time()
        last_end = os.stat(log).st_mtime  # the last task's "E" line
        done, ok = _recorded(node, ids)
        starts = _lines(log, "S")
        duplicated = len(starts) - len(set(starts))
        lost = COUNT - ok
        return {"restart_to_results": recorded - restart, "serving": serving, "lost": lost,
                "duplicated": duplicated, "terminated": done,
                "end_to_results": recorded_wall - last_end}


def run(quick: bool = False, runs: int = 2) -> list[Figure]:
    """B6 figures."""
    down = [one_case(1.0, True) for _ in range(runs)]
    live = [one_case(3.0, False) for _ in range(1 if quick else runs)]
    level2 = one_case(1.0, True, level=2)
    figures = [
        Figure("B6", "ended while down: restart → all results", "s",
               [c["restart_to_results"] for c in down], higher_is_better=False,
               floor=min(c["serving"] for c in down), floor_name="node start", target=2.0),
        Figure("B6", "ended while down: node serving → all results", "s",
               [c["restart_to_results"] - c["serving"] for c in down],
               higher_is_better=False),
        Figure("B6", "ended while down: lost", "inst", [max(c["lost"] for c in down)],
               higher_is_better=False, target=0),
        Figure("B6", "ended while down: duplicated", "tasks",
               [max(c["duplicated"] for c in down)], higher_is_better=False, target=0),
        Figure("B6", "running at restart: last task end → all results", "s",
               [c["end_to_results"] for c in live], higher_is_better=False,
               extra={"restart_to_results": [c["restart_to_results"] for c in live]}),
        Figure("B6", "running at restart: lost", "inst", [max(c["lost"] for c in live)],
               higher_is_better=False, target=0),
        Figure("B6", "running at restart: duplicated", "tasks",
               [max(c["duplicated"] for c in live)], higher_is_better=False, target=0),
        Figure("B6", "level 2, ended while down: lost", "inst", [level2["lost"]],
               higher_is_better=False, target=0),
        Figure("B6", "level 2, ended while down: duplicated", "tasks",
               [level2["duplicated"]], higher_is_better=False, target=0),
    ]
    return figures


def main() -> None:
    """``python bench/b6_recovery.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one run of the second case")
    parser.add_argument("--runs", type=int, default=2, help="runs per case")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
