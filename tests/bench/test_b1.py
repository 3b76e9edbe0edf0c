"""B1 (bench/b1_throughput.py) through ``bench/run.py --tiny``: the forker's and monitors' CPU
per task is given with the task's own CPU taken out, as the target is stated."""

from __future__ import annotations

import re

from tests.bench.test_peer import bench, figure


def test_b1_gives_the_process_side_cpu_with_and_without_the_task() -> None:
    table, figures = bench("--only", "B1")
    floor = figure(figures, "floor", "a task's own CPU, /bin/true (wait4)")
    assert 0 < floor["value"] < 50  # milliseconds: exec, run and exit of /bin/true
    with_task = figure(figures, "B1", "sqlite level 2: forker+monitor+task CPU per instance")
    without = figure(figures, "B1", "sqlite level 2: forker+monitor CPU per task, task excluded")
    assert without["target"] == 1.0 and with_task["target"] is None
    task_cpu = float(re.search(r"\(([\d.]+) ms per /bin/true", without["note"]).group(1))
    assert task_cpu > 0
    for total, alone in zip(with_task["runs"], without["runs"], strict=True):
        assert abs(total - task_cpu - alone) < 1e-3  # the note rounds to 1 µs
    assert "forker+monitor CPU per task, task excluded" in table
