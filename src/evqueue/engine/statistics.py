"""Records the engine gives out: its ``statistics type=global`` counters and ended instances."""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["EndedInstance", "EngineStatistics"]


@dataclass
class EngineStatistics:
    """The engine's part of ``statistics type=global``."""

    workflow_queries: int = 0
    workflow_status_queries: int = 0
    workflow_cancel_queries: int = 0
    workflow_exceptions: int = 0
    workflow_instance_launched: int = 0
    workflow_instance_executing: int = 0
    workflow_instance_errors: int = 0
    waiting_threads: int = 0

    def reset(self) -> None:
        """Zero the counters (the two gauges, executing and waiting, are kept)."""
        for f in fields(self):
            if f.name not in ("workflow_instance_executing", "waiting_threads"):
                setattr(self, f.name, 0)


@dataclass(frozen=True)
class EndedInstance:
    """What end listeners (notifications, workflow scheduler) get when an instance ends."""

    instance_id: int
    workflow_id: int
    schedule_id: int | None
    errors: int
    xml: str
