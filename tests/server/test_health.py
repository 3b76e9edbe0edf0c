"""The node's health: ``ok``, or ``degraded`` while no forker runs (read from the process
manager in ``ctx.services``)."""

from __future__ import annotations

from dataclasses import dataclass

from evqueue.api.context import ApiContext, Services
from evqueue.config import Config
from evqueue.server.health import FORKER_DOWN, NodeHealth, node_health


@dataclass
class FakeProcesses:
    """What the health reads of the process manager."""

    forker_running: bool = True
    forker_restarts: int = 0


def context(processes: FakeProcesses | None) -> ApiContext:
    return ApiContext(cfg=Config.from_mapping({}), db=None,  # type: ignore[arg-type]
                      services=Services(processes=processes))  # type: ignore[arg-type]


def test_a_node_without_process_manager_is_ok() -> None:
    assert node_health(context(None)) == NodeHealth()
    assert NodeHealth().status == "ok"


def test_degraded_while_no_forker_runs_then_ok_again() -> None:
    processes = FakeProcesses(forker_running=False, forker_restarts=1)
    ctx = context(processes)
    health = node_health(ctx)
    assert (health.status, health.problems, health.forker_restarts) == (
        "degraded", (FORKER_DOWN,), 1)
    processes.forker_running = True
    assert node_health(ctx) == NodeHealth((), 1)
    assert node_health(ctx).status == "ok"
