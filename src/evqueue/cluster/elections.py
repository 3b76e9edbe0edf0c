"""Work that one node of the cluster must do, and only one: elections over ``t_uniqueaction``.

Rules (protocol.md §8.2):
- An election is named (``gc``, ``scheduledwf_12_2024-01-10 10:00:00``…) and has a period: a
  win blocks every other try of that name for ``period`` seconds, for ever when ``period <= 0``.
  Exactly one of any set of concurrent tries wins (the store serializes them), however many
  nodes try at once, on every backend.
- :meth:`Elector.run_if_elected` runs a piece of work on the winner only (a schedule due at a
  given time: name it with the time and use period 0, so it runs once, ever).
- :class:`Periodic` is work done once per ``interval`` by whichever node wins (the garbage
  collector): every node ticks every ``interval``; a node that stops simply stops ticking and
  another one wins the next period. :meth:`Periodic.tick` takes the time as an argument; only
  :meth:`Periodic.run` reads the clock and sleeps.
- Times have whole seconds (the store's resolution), so periods shorter than a second behave
  as one second.
- A failing store or failing work is logged by :meth:`Periodic.run`, which carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Awaitable, Callable

from evqueue.storage.cluster import try_unique_action
from evqueue.storage.database import Database
from evqueue.storage.timeutil import local_now

__all__ = ["Elector", "Periodic", "Work"]

log = logging.getLogger("evqueue.cluster")

#: The work an election guards.
Work = Callable[[], Awaitable[object]]


class Elector:
    """Elections on behalf of one node.

    Args:
        db: the store shared by the cluster.
        node: this node's ``cluster.node.name`` (recorded with each win).
    """

    def __init__(self, db: Database, node: str) -> None:
        self.db = db
        self.node = node

    async def try_win(self, name: str, *, period: float = 0,
                      now: datetime.datetime | None = None) -> bool:
        """Try to be the node that performs ``name`` for this period.

        Args:
            name: the action.
            period: seconds a win blocks other tries (``<= 0``: for ever).
            now: the time of the try (default: the local clock).

        Returns:
            True if this node won.
        """
        return await try_unique_action(self.db, name, self.node, now, period)

    async def run_if_elected(self, name: str, work: Work, *, period: float = 0,
                             now: datetime.datetime | None = None) -> bool:
        """Run ``work`` if this node wins ``name``; returns whether it ran here.

        Exceptions of ``work`` propagate (the election stays won: nobody else runs it).
        """
        if not await self.try_win(name, period=period, now=now):
            return False
        await work()
        return True

    def periodic(self, name: str, interval: float, work: Work) -> Periodic:
        """``work`` done by one node of the cluster every ``interval`` seconds."""
        return Periodic(self, name, interval, work)


class Periodic:
    """Work done once per interval by one node of the cluster.

    Args:
        elector: the node's elector.
        name: the election name (the same on every node).
        interval: seconds between two runs, cluster-wide (at least 1).
        work: what to run when elected.
    """

    def __init__(self, elector: Elector, name: str, interval: float, work: Work) -> None:
        if interval <= 0:
            raise ValueError("the interval of a periodic election must be positive")
        self.elector = elector
        self.name = name
        self.interval = interval
        self.work = work
        self._task: asyncio.Task[None] | None = None

    async def tick(self, now: datetime.datetime) -> bool:
        """One try at ``now``: run the work if this node wins; returns whether it ran."""
        return await self.elector.run_if_elected(self.name, self.work, period=self.interval,
                                                 now=now)

    async def run(self) -> None:
        """Tick every ``interval`` seconds, for ever (cancel to stop)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            try:
                await self.tick(local_now())
            except Exception:  # a failing store or job must not end the duty
                log.exception("cluster: periodic work '%s' failed on node %s", self.name,
                              self.elector.node)
            deadline += self.interval
            await asyncio.sleep(max(0.0, deadline - loop.time()))

    def start(self) -> None:
        """Run :meth:`run` in the background."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self.run(), name=f"election {self.name}")

    async def stop(self) -> None:
        """Stop ticking (a run in progress is cancelled)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
