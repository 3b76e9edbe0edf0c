"""B3 fan-out / fan-in: one task, then 1000 tasks in parallel, then one task, on a queue of
concurrency 16.

The workflow is job ``a`` (one task) with subjob ``b`` (1000 tasks) with subjob ``c`` (one
task): ``c`` starts once all of ``b`` has ended. Every task is the same bash script: it
appends ``S <time>`` to a log file, sleeps 10 ms (``/bin/sleep``), appends ``E <time>``
(bash's ``$EPOCHREALTIME``, no extra process). From the log, the largest number of tasks
running at one instant, seen from the tasks themselves, must never exceed 16. The floor is
the same script run in the same 1 → 1000 → 1 shape, 16 at a time, from Python.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import Figure, cpu_seconds, print_table, running_node
from floors import dag_floor

__all__ = ["fan_workflow", "max_running", "run", "task_script"]

WIDTH = 16


def task_script(log: Path) -> str:
    """The body of the task script."""
    return (f'echo "S $EPOCHREALTIME" >> {log}\n/bin/sleep 0.01\n'
            f'echo "E $EPOCHREALTIME" >> {log}\n')


def fan_workflow(path: str, fan: int) -> str:
    """1 → ``fan`` → 1 tasks of ``path`` on queue ``q``."""
    task = f"<task path='{path}' queue='q'/>"
    inner = f"<job name='c'><tasks>{task}</tasks></job>"
    middle = f"<job name='b'><tasks>{task * fan}</tasks><subjobs>{inner}</subjobs></job>"
    return (f"<workflow><subjobs><job name='a'><tasks>{task}</tasks><subjobs>{middle}"
            f"</subjobs></job></subjobs></workflow>")


def max_running(log: Path) -> tuple[int, int]:
    """(largest number of tasks between their S and E at one instant, number of tasks)."""
    events = []
    for line in log.read_text().splitlines():
        kind, stamp = line.split()
        events.append((float(stamp), 1 if kind == "S" else -1))
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    running = best = 0
    for _, step in events:
        running += step
        best = max(best, running)
    return best, sum(1 for _, step in events if step == 1)


def run(quick: bool = False, runs: int = 3) -> list[Figure]:
    """B3 figures: makespan and the most tasks seen running at once."""
    fan = 300 if quick else 1000
    makespans: list[float] = []
    peaks: list[float] = []
    floors: list[float] = []
    engine_cpu: list[float] = []
    with running_node("b3") as node:
        floor_log = node.directory / "floor.log"
        floor_script = node.task_script("floor.sh", task_script(floor_log), "/bin/bash")
        log = node.directory / "tasks.log"
        script = node.task_script("fan.sh", task_script(log), "/bin/bash")
        node.queue("q", WIDTH)
        node.workflow("fan", fan_workflow(script, fan))
        request = b"<instance action='launch' name='fan' mode='synchronous'/>"
        for _ in range(runs):
            floors.append(dag_floor(floor_script, fan, WIDTH))
            log.write_text("")
            cpu = cpu_seconds(node.process.pid)
            start = time.perf_counter()
            node.wire.call(request)
            makespans.append(time.perf_counter() - start)
            engine_cpu.append((cpu_seconds(node.process.pid) - cpu) * 1000 / (fan + 2))
            peak, count = max_running(log)
            if count != fan + 2:
                raise RuntimeError(f"{count} tasks ran, expected {fan + 2}")
            peaks.append(peak)
    floor = min(floors)
    return [
        Figure("B3", f"1 → {fan} → 1 makespan", "s", makespans, higher_is_better=False,
               floor=floor, floor_name="same DAG from Python", target=1.2 * floor,
               extra={"floor_runs": floors}),
        Figure("B3", "most tasks running at once (worst run)", "tasks", [max(peaks)],
               higher_is_better=False, target=WIDTH, extra={"runs": peaks}),
        Figure("B3", "engine CPU per task", "ms", engine_cpu, higher_is_better=False),
    ]


def main() -> None:
    """``python bench/b3_fanout.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="300 parallel tasks, not 1000")
    parser.add_argument("--runs", type=int, default=3, help="runs")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
