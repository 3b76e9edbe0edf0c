"""Whether the node can do its work: the report behind ``/healthz`` and ``evqueue_degraded``.

Rules:
- A node that answers is ``ok`` unless one of its parts cannot work; it is then ``degraded``,
  with one sentence per problem. Today one part is checked: the forker (without it no task
  starts; the process manager replaces a dead one at once, and launches wait meanwhile).
- A node without an engine (no process manager in ``ctx.services``) has nothing to check.
- Pure: reads the state of the running parts, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from evqueue.api.context import ApiContext

__all__ = ["FORKER_DOWN", "NodeHealth", "node_health"]

#: The problem reported while no forker runs.
FORKER_DOWN = "the forker is not running: tasks wait to start until it is replaced"


@dataclass(frozen=True)
class NodeHealth:
    """What is wrong with the node (nothing: ``ok``), and how often its forker was replaced."""

    problems: tuple[str, ...] = ()
    forker_restarts: int = 0

    @property
    def status(self) -> str:
        """``ok`` or ``degraded``."""
        return "degraded" if self.problems else "ok"


def node_health(ctx: ApiContext) -> NodeHealth:
    """The health of the node whose API context is ``ctx``.

    Args:
        ctx: the node's API context (its running parts are in ``ctx.services``).

    Returns:
        The report.
    """
    processes = ctx.services.processes
    if processes is None:
        return NodeHealth()
    problems = () if processes.forker_running else (FORKER_DOWN,)
    return NodeHealth(problems, processes.forker_restarts)
