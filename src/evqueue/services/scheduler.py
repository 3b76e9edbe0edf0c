"""The workflow scheduler: launches each active schedule at its due times (semantics.md §5.1).

The scheduler only enqueues: at a due time it calls :meth:`Engine.launch` with the schedule's
parameters, host and user, and the engine does the rest.

Rules:

- Which schedules: the active rows of ``t_workflow_schedule`` whose node is this node's name,
  ``all`` or ``any``, loaded at start and on every reload (``control reload module=scheduler``
  or ``all``, SIGHUP).
- When: :class:`SchedulePlan` is the pure core (time is an argument). A schedule's next due
  time is :meth:`Schedule.next_time` of the moment it is loaded, or of the moment its run
  ended (evQueue's rule): a schedule has at most one run at a time on a node, and due times
  that pass while it runs are skipped. A reload keeps the due time of an unchanged schedule.
- ``all`` and this node's name: this node launches at every due time. ``any``: every node
  that loads the schedule tries to claim (schedule, due time) in ``t_schedule_fire``, whose
  primary key lets exactly one claim succeed; that node launches and records the instance id,
  the others skip the due time. A node that dies loses nothing: the live nodes claim the next
  due times. A node killed between its claim and recording the instance settles its claims
  of the last hour when it starts again: the instance it launched (the launch's row exists
  from the launch's first transaction, and the engine resumed it) is recorded, or the due
  time is launched then, late; if the schedule is running meanwhile the due time is skipped.
- "One run at a time" is a rule of each node: with ``any``, a run still going on another
  node does not stop this node from claiming the next due time (evQueue asked every node of
  ``cluster.nodes`` for its running schedules instead, and fired nothing while one was down).
- Missed due times: a due time that passes while no node runs is skipped, as in evQueue; a
  starting node waits for the first due time after now. A node that wakes late (a loaded
  machine) fires once, for the earliest due time it missed, then waits for the next one.
- Clock skew between nodes: the claim key is the due time computed from the schedule, not a
  clock reading, so nodes whose clocks differ by less than the schedule's period all compete
  for the same key; a node 5 s late only finds the fire taken.
- Failure: when a run ends with errors, ``onfailure=SUSPEND`` deactivates the schedule in the
  store (and announces the ``scheduler`` change) and drops it; ``CONTINUE`` keeps firing. A
  launch that fails (unknown workflow, missing retry schedule) is logged and the schedule
  waits for its next due time.
- Events: WORKFLOWSCHEDULE_STARTED at each launch, WORKFLOWSCHEDULE_STOPPED when a run ends
  (object: the schedule id).
- Sleeping: one wait until the earliest due time (at most :data:`MAX_SLEEP` seconds, so a
  change of the wall clock is noticed); a reload or the end of a run wakes it early.
- Time: the scheduler reads only the clock it is given (the runner's, see
  :mod:`evqueue.server.clock_offset`); the plan is given the time.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from evqueue.engine.engine import Engine
from evqueue.engine.events import EventType
from evqueue.engine.statistics import EndedInstance
from evqueue.errors import ApiError, InvalidSchedule
from evqueue.model.schedule import Schedule
from evqueue.storage.cluster import (
    claim_schedule_fire,
    scheduled_instance_since,
    set_schedule_fire_instance,
    unrecorded_fires,
)
from evqueue.storage.database import Database
from evqueue.storage.errors import StorageError
from evqueue.storage.workflow_schedules import (
    WorkflowScheduleRow,
    schedules_for_node,
    set_workflow_schedule_active,
)

__all__ = [
    "ALL_NODES",
    "ANY_NODE",
    "EndOutcome",
    "Fire",
    "MAX_SLEEP",
    "ScheduleEntry",
    "SchedulePlan",
    "STOP_TIMEOUT",
    "ScheduleStatus",
    "Scheduler",
    "entry_from_row",
]

log = logging.getLogger(__name__)

#: Node of a schedule that one elected node runs at each due time.
ANY_NODE = "any"
#: Node of a schedule that every node runs.
ALL_NODES = "all"
#: Longest single sleep (seconds): the wall clock is read again at least this often.
MAX_SLEEP = 60.0
#: How far back a restarted node looks for due times it claimed and did not record.
CLAIM_RECOVERY_WINDOW = datetime.timedelta(hours=1)
#: Recorded on a claim settled without a run (its schedule was running or gone).
NOT_RUN = 0
#: Seconds :meth:`Scheduler.stop` waits for fires in progress.
STOP_TIMEOUT = 10.0
# Timers may fire a hair early; waking just after the due second avoids a second short sleep.
_WAKE_MARGIN = 0.002

Parameters = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ScheduleEntry:
    """One schedule this node runs: what to launch, when, and how failures are handled."""

    id: int
    workflow_id: int
    workflow_name: str
    schedule: Schedule
    node: str = ANY_NODE
    onfailure: str = "CONTINUE"
    user: str = ""
    host: str = ""
    parameters: Parameters = ()


@dataclass(frozen=True)
class Fire:
    """A due time reached: launch ``entry`` (after claiming it when its node is ``any``)."""

    entry: ScheduleEntry
    due_time: datetime.datetime

    @property
    def claim(self) -> bool:
        """True when the cluster must elect the node that fires (node ``any``)."""
        return self.entry.node == ANY_NODE


@dataclass(frozen=True)
class ScheduleStatus:
    """A line of ``status type=scheduler``: scheduled at a time, or running an instance."""

    schedule_id: int
    name: str
    scheduled_at: datetime.datetime | None
    instance_id: int | None = None


class EndOutcome(Enum):
    """What the end of a run did to its schedule."""

    RESCHEDULED = "rescheduled"
    SUSPENDED = "suspended"
    IGNORED = "ignored"  # not a run this plan is waiting for (a vanished schedule)


@dataclass
class _Slot:
    entry: ScheduleEntry
    next_due: datetime.datetime | None = None
    instance_id: int | None = None
    firing: bool = False  # handed out by due(), not yet started() or skipped()

    @property
    def busy(self) -> bool:
        return self.firing or self.instance_id is not None


def _next(schedule: Schedule, after: datetime.datetime) -> datetime.datetime | None:
    try:
        return schedule.next_time(after)
    except OverflowError:  # no occurrence before year 9999: the schedule simply never fires
        return None


class SchedulePlan:
    """The scheduler's pure core: due times of the loaded schedules and their runs.

    Nothing here reads the clock: every method that needs the time takes ``now``.
    """

    def __init__(self) -> None:
        self._slots: dict[int, _Slot] = {}

    def load(self, entries: Iterable[ScheduleEntry], now: datetime.datetime,
             running: Mapping[int, int] | None = None) -> None:
        """Replace the schedules, keeping what is known about those that stay.

        Args:
            entries: the schedules to run from now on.
            now: the current time.
            running: schedule id → id of its instance running on this node (at start-up,
                the resumed instances).
        """
        running = running or {}
        slots: dict[int, _Slot] = {}
        for entry in entries:
            old = self._slots.get(entry.id)
            slot = _Slot(entry)
            if old is not None and old.busy:
                slot.instance_id, slot.firing = old.instance_id, old.firing
            elif entry.id in running:
                slot.instance_id = running[entry.id]
            elif old is not None and old.entry.schedule == entry.schedule:
                slot.next_due = old.next_due
            else:
                slot.next_due = _next(entry.schedule, now)
            slots[entry.id] = slot
        self._slots = slots

    def due(self, now: datetime.datetime) -> list[Fire]:
        """The fires due at ``now``, earliest first; each is handed out once.

        The caller reports what became of each with :meth:`started` or :meth:`skipped`.
        """
        ready = [s for s in self._slots.values()
                 if not s.busy and s.next_due is not None and s.next_due <= now]
        ready.sort(key=lambda s: (s.next_due, s.entry.id))
        fires = []
        for slot in ready:
            assert slot.next_due is not None
            fires.append(Fire(slot.entry, slot.next_due))
            slot.next_due, slot.firing = None, True
        return fires

    def started(self, schedule_id: int, instance_id: int) -> None:
        """A fire launched ``instance_id``: the schedule waits for its end."""
        slot = self._slots.get(schedule_id)
        if slot is not None:
            slot.firing, slot.instance_id = False, instance_id

    def recover(self, schedule_id: int, due_time: datetime.datetime) -> Fire | None:
        """A fire this node claimed before it stopped, and never launched: handed out now
        (late) when its schedule is loaded and idle, else None (a run is going on: the due
        time is skipped, as any due time reached while the schedule runs)."""
        slot = self._slots.get(schedule_id)
        if slot is None or slot.busy:
            return None
        slot.firing = True
        return Fire(slot.entry, due_time)

    def skipped(self, fire: Fire, now: datetime.datetime) -> None:
        """A fire did not launch (claimed by another node, or the launch failed)."""
        slot = self._slots.get(fire.entry.id)
        if slot is not None and slot.firing:
            slot.firing = False
            slot.next_due = _next(slot.entry.schedule, max(now, fire.due_time))

    def ended(self, schedule_id: int, instance_id: int, errors: int,
              now: datetime.datetime) -> EndOutcome:
        """A run ended: reschedule, or drop the schedule (``SUSPEND`` after a failed run)."""
        slot = self._slots.get(schedule_id)
        if slot is None or slot.instance_id != instance_id:
            return EndOutcome.IGNORED
        slot.instance_id = None
        if errors > 0 and slot.entry.onfailure == "SUSPEND":
            del self._slots[schedule_id]
            return EndOutcome.SUSPENDED
        slot.next_due = _next(slot.entry.schedule, now)
        return EndOutcome.RESCHEDULED

    def next_wake(self) -> datetime.datetime | None:
        """The earliest due time of an idle schedule, or None."""
        times = [s.next_due for s in self._slots.values()
                 if not s.busy and s.next_due is not None]
        return min(times, default=None)

    def status(self) -> list[ScheduleStatus]:
        """Scheduled schedules by due time, then running ones by schedule id."""
        waiting = sorted((s for s in self._slots.values()
                          if not s.busy and s.next_due is not None),
                         key=lambda s: (s.next_due, s.entry.id))
        running = sorted((s for s in self._slots.values() if s.instance_id is not None),
                         key=lambda s: s.entry.id)
        return ([ScheduleStatus(s.entry.id, s.entry.workflow_name, s.next_due)
                 for s in waiting]
                + [ScheduleStatus(s.entry.id, s.entry.workflow_name, None, s.instance_id)
                   for s in running])

    def __contains__(self, schedule_id: object) -> bool:
        return schedule_id in self._slots


def entry_from_row(row: WorkflowScheduleRow) -> ScheduleEntry:
    """A :class:`ScheduleEntry` from a stored schedule.

    Raises:
        InvalidSchedule: the stored schedule string does not parse.
    """
    return ScheduleEntry(
        id=row.id, workflow_id=row.workflow_id, workflow_name=row.workflow_name or "",
        schedule=Schedule.parse(row.schedule), node=row.node_name, onfailure=row.onfailure,
        user=row.user or "", host=row.host or "", parameters=row.parameters,
    )


@dataclass
class Scheduler:
    """The asyncio side: loads schedules, sleeps until due times, claims and launches.

    Args:
        db: the shared store.
        engine: this node's engine.
        node_name: ``cluster.node.name``.
        changed: announces a definition change (module name) to this node and the cluster;
            called with ``scheduler`` after a schedule is suspended.
        clock: the local wall clock (naive, with microseconds).
    """

    db: Database
    engine: Engine
    node_name: str
    changed: Callable[[str], Awaitable[None]] | None = None
    clock: Callable[[], datetime.datetime] = datetime.datetime.now
    plan: SchedulePlan = field(default_factory=SchedulePlan)

    def __post_init__(self) -> None:
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._stopped = False
        self.engine.add_end_listener(self._instance_ended)

    async def start(self) -> None:
        """Load the schedules, then run the loop; runs of resumed instances count as running."""
        running = {i.schedule_id: i.id for i in self.engine.instances()
                   if i.schedule_id is not None}
        await self.reload(running)
        await self._finish_claims()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _finish_claims(self) -> None:
        """Settle the due times this node claimed but did not record (it was killed between
        the claim and the record): record the instance it launched, or launch it now."""
        try:
            claims = await unrecorded_fires(self.db, self.node_name,
                                            self.clock() - CLAIM_RECOVERY_WINDOW)
        except StorageError as exc:
            log.warning("scheduler: cannot read this node's unrecorded fires: %s", exc)
            return
        for schedule_id, due_time in claims:
            try:
                instance_id = await scheduled_instance_since(self.db, schedule_id,
                                                             self.node_name, due_time)
                if instance_id is None:
                    fire = self.plan.recover(schedule_id, due_time)
                    if fire is None:
                        log.warning("[WSID %d] %s: claimed before a crash, not run (the "
                                    "schedule runs or is gone)", schedule_id, due_time)
                        await set_schedule_fire_instance(self.db, schedule_id, due_time,
                                                         NOT_RUN)
                        continue
                    log.warning("[WSID %d] %s: claimed before a crash and not launched: "
                                "launching now", schedule_id, due_time)
                    instance_id = await self._launch(fire)
                if instance_id is not None:
                    await set_schedule_fire_instance(self.db, schedule_id, due_time,
                                                     instance_id)
            except StorageError as exc:
                log.warning("[WSID %d] cannot settle the fire due %s: %s", schedule_id,
                            due_time, exc)

    async def stop(self) -> None:
        """Stop firing; runs in progress carry on in the engine.

        A fire being claimed or launched is finished first (within :data:`STOP_TIMEOUT`), so a
        claimed due time always gets its instance.
        """
        self._stopped = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT)
            except TimeoutError:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def reload(self, running: Mapping[int, int] | None = None) -> None:
        """Load the active schedules of this node from the store and wake the loop."""
        entries = []
        for row in await schedules_for_node(self.db, self.node_name):
            if row.schedule.workflow_name is None:
                continue  # the workflow is gone
            try:
                entries.append(entry_from_row(row.schedule))
            except InvalidSchedule as exc:
                log.warning("[WSID %d] invalid schedule '%s' ignored: %s",
                            row.schedule.id, row.schedule.schedule, exc)
        self.plan.load(entries, self.clock(), running)
        log.info("scheduler: %d schedule(s) loaded", len(entries))
        self._wake.set()

    def status(self) -> list[ScheduleStatus]:
        """What ``status type=scheduler`` reports."""
        return self.plan.status()

    # -- the loop ------------------------------------------------------------------------------

    async def tick(self, now: datetime.datetime) -> list[int]:
        """Fire what is due at ``now``; returns the ids of the instances launched here."""
        launched = []
        for fire in self.plan.due(now):
            if self._stopped:
                break  # the node stops: claim nothing more, other nodes take these due times
            instance_id = await self._fire(fire)
            if instance_id is not None:
                launched.append(instance_id)
        return launched

    async def _run(self) -> None:
        while not self._stopped:
            self._wake.clear()
            try:
                await self.tick(self.clock())
            except Exception:  # a bug must not end scheduling on this node
                log.exception("scheduler: unexpected error while firing schedules")
            if not self._stopped:
                await self._sleep()

    async def _sleep(self) -> None:
        wake = self.plan.next_wake()
        delay = MAX_SLEEP
        if wake is not None:
            delay = min(MAX_SLEEP, (wake - self.clock()).total_seconds() + _WAKE_MARGIN)
        if delay <= 0:
            return
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except TimeoutError:
            pass

    async def _fire(self, fire: Fire) -> int | None:
        entry = fire.entry
        try:
            if fire.claim and not await claim_schedule_fire(
                    self.db, entry.id, fire.due_time, self.node_name):
                log.info("[WSID %d] %s: run taken by another node", entry.id, fire.due_time)
                self.plan.skipped(fire, self.clock())
                return None
        except StorageError as exc:
            log.warning("[WSID %d] cannot claim the run due %s: %s", entry.id, fire.due_time,
                        exc)
            self.plan.skipped(fire, self.clock())
            return None
        instance_id = await self._launch(fire)
        if instance_id is not None and fire.claim:
            try:
                await set_schedule_fire_instance(self.db, entry.id, fire.due_time, instance_id)
            except StorageError as exc:
                log.warning("[WSID %d] cannot record instance %d: %s", entry.id, instance_id,
                            exc)
        return instance_id

    async def _launch(self, fire: Fire) -> int | None:
        """Launch a fire's workflow and tell the plan; None when the launch failed."""
        entry = fire.entry
        try:
            instance_id = await self.engine.launch(
                entry.workflow_id, entry.parameters, host=entry.host, user=entry.user,
                schedule_id=entry.id)
        except (ApiError, StorageError) as exc:
            log.warning("[WSID %d] cannot launch workflow '%s': %s", entry.id,
                        entry.workflow_name, exc)
            self.plan.skipped(fire, self.clock())
            return None
        except Exception:  # a bug: log it, and keep the schedule alive for its next due time
            log.exception("[WSID %d] unexpected error launching workflow '%s'", entry.id,
                          entry.workflow_name)
            self.plan.skipped(fire, self.clock())
            return None
        # No await between the launch and started(): the run cannot end in between.
        self.plan.started(entry.id, instance_id)
        log.log(25, "[WID %d] instantiated by workflow scheduler (schedule %d, due %s)",
                instance_id, entry.id, fire.due_time)
        self.engine.events.emit(EventType.WORKFLOWSCHEDULE_STARTED, entry.id)
        return instance_id

    # -- ends of runs --------------------------------------------------------------------------

    def _instance_ended(self, ended: EndedInstance) -> None:
        if self._stopped or ended.schedule_id is None:
            return
        schedule_id = ended.schedule_id
        self.engine.events.emit(EventType.WORKFLOWSCHEDULE_STOPPED, schedule_id)
        outcome = self.plan.ended(schedule_id, ended.instance_id, ended.errors, self.clock())
        if outcome is EndOutcome.SUSPENDED:
            log.log(25, "[WSID %d] removing schedule due to workflow errors", schedule_id)
            task = asyncio.get_running_loop().create_task(self._suspend(schedule_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        self._wake.set()

    async def _suspend(self, schedule_id: int) -> None:
        try:
            await set_workflow_schedule_active(self.db, schedule_id, False)
        except StorageError as exc:
            log.error("[WSID %d] cannot deactivate schedule: %s", schedule_id, exc)
            return
        if self.changed is not None:
            await self.changed("scheduler")
