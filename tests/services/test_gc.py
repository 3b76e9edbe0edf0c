"""The garbage collector: exactly what is past retention goes, in batches, once per cluster."""

from __future__ import annotations

import datetime

import pytest

from evqueue.cluster import Elector
from evqueue.config import Config
from evqueue.services.gc import GC_ACTION, GarbageCollector, GcSettings, cutoffs
from evqueue.storage.cluster import claim_schedule_fire, try_unique_action
from evqueue.storage.instances import (
    InstanceSpec,
    SavepointWrite,
    create_instance,
    get_instance,
    save_instance,
)
from evqueue.storage.logs import (
    add_api_log,
    add_log,
    add_notification_log,
    list_api_logs,
    list_logs,
    list_notification_logs,
)
from evqueue.storage.tables import t_schedule_fire, t_uniqueaction

pytestmark = pytest.mark.backends

NOW = datetime.datetime(2024, 3, 1, 12, 0, 0)
SETTINGS = GcSettings(limit=2, delay=7.0, instance_days=30, log_days=7, api_log_days=20,
                      notification_log_days=10, unique_action_days=5)


def days_ago(days: float) -> datetime.datetime:
    return NOW - datetime.timedelta(days=days)


class Sleeps:
    """Records the delays the collector asks for, without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def test_settings_come_from_the_gc_keys() -> None:
    cfg = Config.from_mapping({"gc.enable": "no", "gc.interval": "60", "gc.limit": "10",
                               "gc.delay": "1", "gc.workflowinstance.retention": "3",
                               "gc.logs.retention": "4", "gc.logsapi.retention": "5",
                               "gc.logsnotifications.retention": "6",
                               "gc.uniqueaction.retention": "8"})
    assert GcSettings.from_config(cfg) == GcSettings(False, 60.0, 10, 1.0, 3, 4, 5, 6, 8)
    assert GcSettings.from_config(Config.defaults()) == GcSettings()


def test_each_kind_is_cut_at_its_own_retention() -> None:
    assert cutoffs(SETTINGS, NOW) == {
        "instances": days_ago(30), "logs": days_ago(7), "api_logs": days_ago(20),
        "notification_logs": days_ago(10), "unique_actions": days_ago(5),
        "schedule_fires": days_ago(5)}


async def _instance(db, ended_days_ago: float | None) -> int:
    instance_id = await create_instance(db, InstanceSpec(workflow_id=1, start=days_ago(90)))
    if ended_days_ago is not None:
        await save_instance(db, SavepointWrite(instance_id, "<workflow/>",
                                               end=days_ago(ended_days_ago)))
    return instance_id


async def test_exactly_what_is_past_retention_is_deleted_in_batches(db) -> None:
    old = [await _instance(db, age) for age in (31, 40, 50, 60, 70)]
    kept = [await _instance(db, age) for age in (29, 1)] + [await _instance(db, None)]
    for age in (8, 9, 6):
        await add_log(db, "node1", 6, f"log {age}", days_ago(age))
        await add_api_log(db, "node1", 1, 1, "Queue", "queue", "edit", days_ago(age * 3))
        await add_notification_log(db, "node1", 10, f"notif {age}", days_ago(age + 3))
    for age in (6, 4):
        assert await try_unique_action(db, f"action {age}", "node1", days_ago(age))
        assert await claim_schedule_fire(db, 1, days_ago(age), "node1")
    sleeps = Sleeps()

    deleted = await GarbageCollector(db, SETTINGS, sleep=sleeps).collect(NOW)

    assert deleted == {"instances": 5, "logs": 2, "api_logs": 2, "notification_logs": 2,
                       "unique_actions": 1, "schedule_fires": 1}
    # 5 instances in batches of 2 take three rounds; logs hit the limit once
    assert sleeps.delays == [7.0, 7.0]
    assert [await get_instance(db, i) is None for i in old + kept] == [True] * 5 + [False] * 3
    assert [row.message for row in await list_logs(db)] == ["log 6"]
    assert [row.timestamp for row in await list_api_logs(db)] == [days_ago(18)]
    assert [row.message for row in await list_notification_logs(db)] == ["notif 6"]
    assert [r.uniqueaction_name for r in await db.fetch_all(t_uniqueaction.select())] == [
        "action 4"]
    assert [r.due_time for r in await db.fetch_all(t_schedule_fire.select())] == [days_ago(4)]


async def test_nothing_to_delete_means_one_round_and_no_wait(db) -> None:
    await _instance(db, 1)
    sleeps = Sleeps()
    deleted = await GarbageCollector(db, SETTINGS, sleep=sleeps).collect(NOW)
    assert set(deleted.values()) == {0}
    assert sleeps.delays == []


async def test_one_node_of_the_cluster_collects_per_interval(db) -> None:
    runs: list[str] = []

    def duty(node: str):
        collector = GarbageCollector(db, SETTINGS, sleep=Sleeps())

        async def work() -> None:
            runs.append(node)
            await collector.collect(NOW)

        return Elector(db, node).periodic(GC_ACTION, 3600, work)

    nodes = [duty("node1"), duty("node2")]
    assert [await d.tick(NOW) for d in nodes] == [True, False]
    later = NOW + datetime.timedelta(seconds=1800)
    assert [await d.tick(later) for d in reversed(nodes)] == [False, False]
    next_interval = NOW + datetime.timedelta(seconds=3601)
    assert [await d.tick(next_interval) for d in reversed(nodes)] == [True, False]
    assert runs == ["node1", "node2"]
