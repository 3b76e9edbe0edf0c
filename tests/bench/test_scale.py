"""B4 (bench/b4_scale.py) through ``bench/run.py --tiny``: a burst of launches against a small
one on the same node, and instances left waiting in a held queue, on a real node."""

from __future__ import annotations

import math

from tests.bench.test_peer import bench, figure


def test_b4_prints_the_burst_rate_against_the_small_one_and_the_memory_per_queued_instance(
) -> None:
    table, figures = bench("--only", "B4")
    burst = figure(figures, "B4", "200 launched at once, concurrency 16")
    assert burst["value"] > 0 and burst["floor"] > 0
    assert burst["floor_name"] == "50 launched"
    assert burst["ratio"] == burst["value"] / burst["floor"]
    memory = figure(figures, "B4", "engine memory per queued instance")
    assert memory["unit"] == "KB" and memory["target"] == 5.0
    assert math.isfinite(memory["value"])
    assert figure(figures, "B4", "engine peak RSS during the 200 burst")["value"] > 10
    assert "engine memory per queued instance" in table
