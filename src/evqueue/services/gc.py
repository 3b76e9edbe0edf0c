"""The garbage collector: deletes history older than its retention (semantics.md §5.10).

Rules:

- What: TERMINATED instances by end date (with their parameters, custom attributes,
  datastore entries and tags) after ``gc.workflowinstance.retention`` days; engine logs after
  ``gc.logs.retention``; API logs after ``gc.logsapi.retention``; notification logs after
  ``gc.logsnotifications.retention``; election rows after ``gc.uniqueaction.retention``; and
  schedule-fire claims (ours) with the election rows, after ``gc.uniqueaction.retention``.
  A retention of 0 days keeps nothing older than now.
- How: in rounds. Each round deletes at most ``gc.limit`` rows of each kind; while some kind
  still had ``gc.limit`` rows to delete, the collector waits ``gc.delay`` seconds and runs
  another round for those kinds only, so a large backlog never holds the database for long.
- When: every ``gc.interval`` seconds, on the one node elected for that interval through the
  unique action :data:`GC_ACTION` (the runner drives it with the cluster's periodic
  election), so the cluster collects once per interval. ``gc.enable=no`` disables it.
- Time is an argument: :func:`cutoffs` and :meth:`GarbageCollector.collect` take ``now``, and
  the collector takes its ``sleep``, so tests never wait for a retention or a delay.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evqueue.storage.database import Database
from evqueue.storage.gc import (
    purge_api_logs,
    purge_instances,
    purge_logs,
    purge_notification_logs,
    purge_schedule_fires,
    purge_unique_actions,
)

if TYPE_CHECKING:
    from evqueue.config import Config

__all__ = ["GC_ACTION", "GarbageCollector", "GcSettings", "PURGES", "cutoffs"]

log = logging.getLogger(__name__)

#: Name of the election that makes one node collect per interval.
GC_ACTION = "gc"

Purge = Callable[[Database, datetime.datetime, int], Awaitable[int]]
Sleep = Callable[[float], Awaitable[object]]


async def _purge_fires(db: Database, before: datetime.datetime, limit: int) -> int:
    # One row per fired due time: few enough to go at once (the verb has no limit).
    return await purge_schedule_fires(db, before)


#: (kind, purge verb, retention attribute of :class:`GcSettings`), in collection order.
PURGES: tuple[tuple[str, Purge, str], ...] = (
    ("instances", purge_instances, "instance_days"),
    ("logs", purge_logs, "log_days"),
    ("api_logs", purge_api_logs, "api_log_days"),
    ("notification_logs", purge_notification_logs, "notification_log_days"),
    ("unique_actions", purge_unique_actions, "unique_action_days"),
    ("schedule_fires", _purge_fires, "unique_action_days"),
)


@dataclass(frozen=True)
class GcSettings:
    """The ``gc.*`` keys: retentions in days, interval and delay in seconds."""

    enable: bool = True
    interval: float = 43200.0
    limit: int = 1000
    delay: float = 2.0
    instance_days: int = 30
    log_days: int = 7
    api_log_days: int = 30
    notification_log_days: int = 30
    unique_action_days: int = 30

    @classmethod
    def from_config(cls, cfg: Config) -> GcSettings:
        """Read the ``gc.*`` keys."""
        return cls(
            enable=bool(cfg["gc.enable"]), interval=float(cfg["gc.interval"]),
            limit=max(1, int(cfg["gc.limit"])), delay=float(cfg["gc.delay"]),
            instance_days=int(cfg["gc.workflowinstance.retention"]),
            log_days=int(cfg["gc.logs.retention"]),
            api_log_days=int(cfg["gc.logsapi.retention"]),
            notification_log_days=int(cfg["gc.logsnotifications.retention"]),
            unique_action_days=int(cfg["gc.uniqueaction.retention"]),
        )


def cutoffs(settings: GcSettings, now: datetime.datetime) -> dict[str, datetime.datetime]:
    """Kind → the time at or before which its rows are deleted."""
    return {kind: now - datetime.timedelta(days=getattr(settings, days))
            for kind, _, days in PURGES}


@dataclass
class GarbageCollector:
    """Deletes what is past retention, in bounded batches.

    Args:
        db: the shared store.
        settings: the ``gc.*`` configuration.
        sleep: waits ``gc.delay`` between rounds (``asyncio.sleep``; tests pass their own).
    """

    db: Database
    settings: GcSettings
    sleep: Sleep = asyncio.sleep

    async def collect(self, now: datetime.datetime) -> dict[str, int]:
        """Delete everything past its retention at ``now``; returns rows deleted per kind."""
        limits = cutoffs(self.settings, now)
        deleted = dict.fromkeys(limits, 0)
        pending = list(PURGES)
        while True:
            full = []
            for item in pending:
                kind, purge, _ = item
                count = await purge(self.db, limits[kind], self.settings.limit)
                deleted[kind] += count
                if count >= self.settings.limit:
                    full.append(item)
            if not full:
                log.info("garbage collector: deleted %s",
                         ", ".join(f"{count} {kind}" for kind, count in deleted.items()))
                return deleted
            pending = full
            await self.sleep(self.settings.delay)
