"""Engine statistics."""

from __future__ import annotations

from evqueue.engine import EngineStatistics


def test_reset_keeps_the_gauges():
    stats = EngineStatistics(workflow_queries=4, workflow_instance_executing=2, waiting_threads=1)
    stats.reset()
    assert (stats.workflow_queries, stats.workflow_instance_executing,
            stats.waiting_threads) == (0, 2, 1)
