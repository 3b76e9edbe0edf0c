"""Drive a pure :class:`Instance` without the engine: scripted task results, no loop, no clock.

:class:`Driver` performs the actions an instance returns the way the engine would, but
synchronously: queued tasks run one after the other (unless held), retries wait in a list
until :meth:`Driver.fire_retries`.
"""

from __future__ import annotations

import datetime
import itertools
from collections import deque
from collections.abc import Callable

from lxml import etree

from evqueue.engine import Instance, QueueDefinition, QueuePool, TaskCommand, TaskResult
from evqueue.engine.actions import (
    Action,
    ArmRetry,
    CancelQueued,
    CancelRetries,
    EnqueueTask,
    InstanceEnded,
    KillTask,
)
from evqueue.engine.instance_state import InstanceSettings
from tests.engine.fakes import HOLD, START, Outcome

__all__ = ["HOLD", "Driver", "Outcome", "make_instance"]


def make_instance(
    xml: str,
    parameters: dict[str, str] | None = None,
    *,
    queues: tuple[QueueDefinition, ...] = (QueueDefinition("default", 1),),
    schedules: dict[str, str] | None = None,
    instance_id: int = 1,
    **kwargs: str,
) -> Instance:
    """A created instance with id *instance_id*."""
    instance = Instance.create(
        xml, name="wf", parameters=parameters or {}, retry_schedules=schedules,
        queues=QueuePool(queues), settings=InstanceSettings(environ={"HOME": "/home/evq"}),
        **kwargs,
    )
    instance.id = instance_id
    return instance


class Driver:
    """Runs an instance's tasks with scripted outcomes.

    Args:
        instance: the instance to drive.
        script: task command → outcome (default: success with empty output); ``HOLD`` keeps
            the task running until :meth:`end`.
        now: the time passed to the instance (advance it with :meth:`advance`).
    """

    def __init__(
        self,
        instance: Instance,
        script: Callable[[TaskCommand], Outcome] | None = None,
        now: datetime.datetime = START,
    ) -> None:
        self.instance = instance
        self.script = script or (lambda command: Outcome())
        self.now = now
        self.log: list[Action] = []
        self.queued: deque[EnqueueTask] = deque()
        self.running: dict[str, EnqueueTask] = {}
        self.retries: list[ArmRetry] = []
        self.killed: list[KillTask] = []
        self.commands: list[TaskCommand] = []
        self.ended: InstanceEnded | None = None
        self._tids = itertools.count(1)

    # -- running ------------------------------------------------------------------------------

    def start(self) -> Driver:
        self.handle(self.instance.start(self.now))
        return self

    def handle(self, actions: list[Action]) -> None:
        for action in actions:
            self.log.append(action)
            if isinstance(action, EnqueueTask):
                self.queued.append(action)
            elif isinstance(action, ArmRetry):
                self.retries.append(action)
            elif isinstance(action, CancelRetries):
                self.retries.clear()
            elif isinstance(action, CancelQueued):
                cancelled, self.queued = list(self.queued), deque()
                for queued in cancelled:
                    self.handle(self.instance.task_cancelled(queued.evqid, self.now))
            elif isinstance(action, KillTask):
                self.killed.append(action)
            elif isinstance(action, InstanceEnded):
                self.ended = action

    def run(self) -> Driver:
        """Start and end queued tasks until nothing is queued."""
        while self.queued:
            queued = self.queued.popleft()
            self.commands.append(queued.command)
            tid = next(self._tids)
            self.handle(self.instance.task_running(queued.evqid, tid, 1000 + tid, self.now))
            outcome = self.script(queued.command)
            if outcome is HOLD:
                self.running[queued.evqid] = queued
                continue
            self.end(queued.evqid, outcome)
        return self

    def end(self, evqid: str, outcome: Outcome | None = None) -> None:
        outcome = outcome or Outcome()
        self.running.pop(evqid, None)
        result = TaskResult(outcome.retcode, outcome.stdout, outcome.stderr, outcome.log)
        self.handle(self.instance.task_ended(evqid, result, self.now))

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    def fire_retries(self) -> None:
        """Move the clock to each pending retry and run it."""
        while self.retries:
            retry = min(self.retries, key=lambda r: r.at)
            self.retries.remove(retry)
            self.now = max(self.now, retry.at)
            self.handle(self.instance.retry_now(retry.evqid, self.now))
            self.run()

    # -- reading ------------------------------------------------------------------------------

    @property
    def root(self) -> etree._Element:
        return self.instance.root

    def one(self, path: str) -> etree._Element:
        found = self.root.xpath(path)
        assert len(found) == 1, (path, len(found))
        return found[0]

    def task(self, name: str) -> etree._Element:
        return self.one(f"//task[@name='{name}']")

    def job(self, name: str) -> etree._Element:
        return self.one(f"//job[@name='{name}']")

