"""The workflow scheduler: its pure plan (time passed in) and its claims on a real store."""

from __future__ import annotations

import asyncio
import datetime

import pytest

from evqueue.engine import EventType
from evqueue.model.schedule import Schedule
from evqueue.services.scheduler import (
    EndOutcome,
    Fire,
    ScheduleEntry,
    SchedulePlan,
    Scheduler,
    ScheduleStatus,
    entry_from_row,
)
from evqueue.storage.cluster import claim_schedule_fire, schedule_fire_instance
from evqueue.storage.instances import InstanceSpec, create_instance
from evqueue.storage.workflow_schedules import (
    WorkflowScheduleSpec,
    create_workflow_schedule,
    get_workflow_schedule,
)
from evqueue.storage.workflows import create_workflow
from tests.engine.fakes import FakeClock, Outcome, make_engine

T0 = datetime.datetime(2024, 1, 10, 10, 0, 0, 250000)
EVERY_2S = ",".join(str(s) for s in range(0, 60, 2)) + ";;;;;"


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def sharp(seconds: int) -> datetime.datetime:
    """The whole second ``seconds`` after 10:00:00."""
    return T0.replace(microsecond=0) + datetime.timedelta(seconds=seconds)


def entry(schedule_id: int = 1, schedule: str = EVERY_2S, *, node: str = "any",
          onfailure: str = "CONTINUE", name: str = "wf") -> ScheduleEntry:
    return ScheduleEntry(schedule_id, 7, name, Schedule.parse(schedule), node, onfailure,
                         "bob", "h1", (("p", "v"),))


# --- the plan ----------------------------------------------------------------------------


def test_a_loaded_schedule_waits_for_its_first_due_time_after_now() -> None:
    plan = SchedulePlan()
    plan.load([entry()], at(0))
    assert plan.next_wake() == sharp(2)
    assert plan.due(at(1.5)) == []
    assert plan.due(sharp(2)) == [Fire(entry(), sharp(2))]
    assert plan.due(sharp(2)) == []  # handed out once
    assert plan.next_wake() is None  # nothing to wake for while it is being fired


def test_a_run_holds_the_schedule_and_due_times_during_it_are_skipped() -> None:
    plan = SchedulePlan()
    plan.load([entry()], at(0))
    [fire] = plan.due(sharp(2))
    plan.started(1, 42)
    assert plan.status() == [ScheduleStatus(1, "wf", None, 42)]
    assert plan.due(sharp(6)) == []  # still running: 4 and 6 pass
    assert plan.ended(1, 42, errors=0, now=at(6.5)) is EndOutcome.RESCHEDULED
    assert plan.next_wake() == sharp(8)
    assert plan.status() == [ScheduleStatus(1, "wf", sharp(8))]


def test_a_fire_taken_by_another_node_waits_for_the_next_due_time() -> None:
    plan = SchedulePlan()
    plan.load([entry()], at(0))
    [fire] = plan.due(at(2.01))
    assert fire.claim
    plan.skipped(fire, at(2.05))
    assert plan.next_wake() == sharp(4)


def test_skipping_never_hands_the_same_due_time_out_again_when_the_clock_steps_back() -> None:
    plan = SchedulePlan()
    plan.load([entry()], at(0))
    [fire] = plan.due(sharp(2))
    plan.skipped(fire, at(1))
    assert plan.next_wake() == sharp(4)


def test_a_node_that_wakes_late_fires_once_then_waits_for_the_next_due_time() -> None:
    plan = SchedulePlan()
    plan.load([entry()], at(0))
    assert plan.due(at(9)) == [Fire(entry(), sharp(2))]
    plan.started(1, 5)
    plan.ended(1, 5, 0, at(9.1))
    assert plan.next_wake() == sharp(10)


def test_suspend_drops_the_schedule_after_a_failed_run_and_continue_keeps_it() -> None:
    plan = SchedulePlan()
    plan.load([entry(1, onfailure="SUSPEND"), entry(2, onfailure="CONTINUE")], at(0))
    plan.due(sharp(2))
    plan.started(1, 10)
    plan.started(2, 11)
    assert plan.ended(1, 10, errors=1, now=at(3)) is EndOutcome.SUSPENDED
    assert plan.ended(2, 11, errors=1, now=at(3)) is EndOutcome.RESCHEDULED
    assert 1 not in plan and 2 in plan
    assert plan.ended(1, 10, errors=0, now=at(3)) is EndOutcome.IGNORED


def test_suspend_keeps_the_schedule_after_a_successful_run() -> None:
    plan = SchedulePlan()
    plan.load([entry(onfailure="SUSPEND")], at(0))
    plan.due(sharp(2))
    plan.started(1, 10)
    assert plan.ended(1, 10, errors=0, now=at(3)) is EndOutcome.RESCHEDULED


def test_the_end_of_an_unknown_run_changes_nothing() -> None:
    plan = SchedulePlan()
    plan.load([entry()], at(0))
    assert plan.ended(1, 99, 0, at(1)) is EndOutcome.IGNORED
    assert plan.ended(5, 99, 0, at(1)) is EndOutcome.IGNORED
    assert plan.next_wake() == sharp(2)


def test_a_reload_keeps_due_times_and_runs_and_applies_changes() -> None:
    plan = SchedulePlan()
    plan.load([entry(1), entry(2), entry(3), entry(4)], at(0))
    plan.due(sharp(2))
    plan.started(2, 20)
    plan.skipped(Fire(entry(3), sharp(2)), at(2.1))
    plan.skipped(Fire(entry(1), sharp(2)), at(2.1))
    # 1 unchanged, 2 running, 3 changed to every minute, 4 removed, 5 new
    plan.load([entry(1), entry(2), entry(3, "0;;;;;"), entry(5)], at(3))
    assert plan.status() == [
        ScheduleStatus(1, "wf", sharp(4)),
        ScheduleStatus(5, "wf", sharp(4)),
        ScheduleStatus(3, "wf", sharp(60)),
        ScheduleStatus(2, "wf", None, 20),
    ]
    assert 4 not in plan


def test_instances_resumed_at_start_up_hold_their_schedules() -> None:
    plan = SchedulePlan()
    plan.load([entry(1), entry(2)], at(0), running={1: 77})
    assert plan.status() == [ScheduleStatus(2, "wf", sharp(2)), ScheduleStatus(1, "wf", None, 77)]
    assert plan.ended(1, 77, 0, at(5)) is EndOutcome.RESCHEDULED


def test_due_fires_come_earliest_first() -> None:
    plan = SchedulePlan()
    plan.load([entry(1, "0;1;;;;"), entry(2, EVERY_2S)], at(0))
    fires = plan.due(sharp(61))
    assert [(f.entry.id, f.due_time) for f in fires] == [(2, sharp(2)), (1, sharp(60))]


def test_only_any_schedules_are_claimed() -> None:
    assert Fire(entry(node="any"), sharp(2)).claim
    assert not Fire(entry(node="all"), sharp(2)).claim
    assert not Fire(entry(node="node1"), sharp(2)).claim


def test_a_schedule_that_never_occurs_is_loaded_but_never_due() -> None:
    plan = SchedulePlan()
    plan.load([entry(1, "0;0;0;28;1;")], datetime.datetime(9999, 3, 1))  # no Feb 29 left
    assert plan.next_wake() is None
    assert plan.due(datetime.datetime(9999, 12, 31)) == []


# --- the asyncio side, on a real store ----------------------------------------------------

WORKFLOW = ("<workflow><subjobs><job name='j'><tasks><task path='t' queue='default'/></tasks>"
            "</job></subjobs></workflow>")


async def _schedule(db, node: str = "any", onfailure: str = "CONTINUE") -> int:
    workflow_id = await create_workflow(db, "wf", WORKFLOW)
    assert workflow_id == 1  # the id the fake engines know it by
    return await create_workflow_schedule(db, WorkflowScheduleSpec(
        workflow_id=workflow_id, schedule=EVERY_2S, node_name=node, onfailure=onfailure,
        user="bob", host="h1", parameters=()))


def _scheduler(db, node: str, clock: FakeClock, retcode: int = 0):
    engine, launcher, _, _ = make_engine({"wf": WORKFLOW}, node_name=node,
                                         script=lambda command: Outcome(retcode))
    return Scheduler(db, engine, node, clock=clock.now), engine, launcher


@pytest.mark.backends
async def test_exactly_one_node_fires_an_any_schedule_at_each_due_time(db) -> None:
    schedule_id = await _schedule(db)
    clock = FakeClock(at(0))
    nodes = [_scheduler(db, f"node{i}", clock) for i in (1, 2, 3)]
    for scheduler, _, _ in nodes:
        await scheduler.reload()
    for due in (2, 4, 6):
        clock.current = at(due)
        launched = await asyncio.gather(*(s.tick(clock.now()) for s, _, _ in nodes))
        assert sum(len(ids) for ids in launched) == 1, launched
        for _, _, launcher in nodes:
            await launcher.settle()
        winner = next(i for i, ids in enumerate(launched) if ids)
        claim = await schedule_fire_instance(db, schedule_id, sharp(due))
        assert claim == (f"node{winner + 1}", launched[winner][0])
    for scheduler, _, _ in nodes:
        assert scheduler.status() == [ScheduleStatus(schedule_id, "wf", sharp(8))]
        await scheduler.stop()


@pytest.mark.backends
async def test_every_node_fires_an_all_schedule(db) -> None:
    await _schedule(db, node="all")
    clock = FakeClock(at(0))
    nodes = [_scheduler(db, f"node{i}", clock) for i in (1, 2)]
    clock.current = at(2)
    for scheduler, _, _ in nodes:
        await scheduler.reload()
    clock.current = at(4)
    assert [len(await s.tick(clock.now())) for s, _, _ in nodes] == [1, 1]


async def test_a_launch_passes_parameters_host_and_user_and_emits_events(db) -> None:
    schedule_id = await create_workflow_schedule(db, WorkflowScheduleSpec(
        workflow_id=await create_workflow(db, "wf", WORKFLOW), schedule=EVERY_2S,
        node_name="node1", user="bob", host="h1"))
    clock = FakeClock(at(0))
    scheduler, engine, launcher = _scheduler(db, "node1", clock)
    events = []
    engine.events.subscribe(lambda e: events.append((e.type, e.object_id)),
                            [EventType.WORKFLOWSCHEDULE_STARTED,
                             EventType.WORKFLOWSCHEDULE_STOPPED])
    await scheduler.reload()
    [instance_id] = await scheduler.tick(at(2))
    assert engine.instance(instance_id).schedule_id == schedule_id
    xml = engine.query(instance_id)
    assert 'host="h1"' in xml and 'user="bob"' in xml
    await launcher.settle()
    assert events == [(EventType.WORKFLOWSCHEDULE_STARTED, schedule_id),
                      (EventType.WORKFLOWSCHEDULE_STOPPED, schedule_id)]
    await scheduler.stop()


@pytest.mark.parametrize(("onfailure", "active"), [("SUSPEND", False), ("CONTINUE", True)])
async def test_a_failed_run_suspends_or_continues_the_schedule(db, onfailure, active) -> None:
    schedule_id = await _schedule(db, node="node1", onfailure=onfailure)
    clock = FakeClock(at(0))
    scheduler, engine, launcher = _scheduler(db, "node1", clock, retcode=1)
    changes = []

    async def changed(module: str) -> None:
        changes.append(module)

    scheduler.changed = changed
    await scheduler.reload()
    assert len(await scheduler.tick(at(2))) == 1
    await launcher.settle()
    await scheduler.stop()  # waits for the store to be updated
    assert (await get_workflow_schedule(db, schedule_id)).active is active
    assert changes == ([] if active else ["scheduler"])
    assert (schedule_id in scheduler.plan) is active


async def test_a_launch_that_fails_waits_for_the_next_due_time(db) -> None:
    schedule_id = await _schedule(db, node="node1")
    clock = FakeClock(at(0))
    engine, _, _, _ = make_engine({}, node_name="node1")  # the workflow is unknown here
    scheduler = Scheduler(db, engine, "node1", clock=clock.now)
    await scheduler.reload()
    clock.current = at(2.5)
    assert await scheduler.tick(clock.now()) == []
    assert scheduler.status() == [ScheduleStatus(schedule_id, "wf", sharp(4))]


async def test_stored_rows_become_entries(db) -> None:
    schedule_id = await create_workflow_schedule(db, WorkflowScheduleSpec(
        workflow_id=await create_workflow(db, "wf", WORKFLOW), schedule="0;30;2;;;",
        node_name="all", onfailure="SUSPEND", parameters=(("a", "1"),)))
    row = await get_workflow_schedule(db, schedule_id)
    assert entry_from_row(row) == ScheduleEntry(
        schedule_id, row.workflow_id, "wf", Schedule.parse("0;30;2;;;"), "all", "SUSPEND",
        "", "", (("a", "1"),))


# --- claims a node made before it was killed ---------------------------------------------

@pytest.mark.backends
async def test_a_due_time_claimed_and_never_launched_is_launched_at_restart(db) -> None:
    schedule_id = await _schedule(db)
    # node1 claimed the run due at +2 s, then was killed before it launched anything.
    assert await claim_schedule_fire(db, schedule_id, sharp(2), "node1")
    clock = FakeClock(at(5))
    scheduler, engine, launcher = _scheduler(db, "node1", clock)
    await scheduler.start()
    await launcher.settle()
    assert len(launcher.spawned) == 1, "launched late, once"
    node, instance_id = await schedule_fire_instance(db, schedule_id, sharp(2))
    assert node == "node1" and instance_id is not None and instance_id > 0
    await scheduler.stop()
    again, _, launcher2 = _scheduler(db, "node1", clock)  # a second restart: settled already
    await again.start()
    await again.stop()
    assert launcher2.spawned == []


@pytest.mark.backends
async def test_a_claimed_run_whose_instance_exists_is_recorded_not_launched(db) -> None:
    schedule_id = await _schedule(db)
    assert await claim_schedule_fire(db, schedule_id, sharp(2), "node1")
    # The launch's row was written (and the engine resumed it), the record was not.
    instance_id = await create_instance(db, InstanceSpec(
        workflow_id=1, node_name="node1", schedule_id=schedule_id,
        start=sharp(2) + datetime.timedelta(milliseconds=300)))
    scheduler, engine, launcher = _scheduler(db, "node1", FakeClock(at(5)))
    await scheduler.start()
    assert launcher.spawned == []
    assert await schedule_fire_instance(db, schedule_id, sharp(2)) == ("node1", instance_id)
    await scheduler.stop()


@pytest.mark.backends
async def test_a_claim_of_another_node_is_left_to_it(db) -> None:
    schedule_id = await _schedule(db)
    assert await claim_schedule_fire(db, schedule_id, sharp(2), "node2")
    scheduler, engine, launcher = _scheduler(db, "node1", FakeClock(at(5)))
    await scheduler.start()
    await scheduler.stop()
    assert launcher.spawned == []
    assert await schedule_fire_instance(db, schedule_id, sharp(2)) == ("node2", None)
