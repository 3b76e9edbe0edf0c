"""Workflow schedules on real nodes: ``any`` fires exactly once per due time across a cluster
that loses a node, ``onfailure`` and ``status type=scheduler``."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime
import os
import signal
import time

import pytest
from sqlalchemy import select

from evqueue.client.sync import Client
from evqueue.storage.cluster import schedule_fire_instance
from evqueue.storage.tables import t_schedule_fire, t_workflow_instance
from evqueue.storage.workflow_schedules import WorkflowScheduleSpec, create_workflow_schedule
from evqueue.storage.workflows import create_workflow
from tests.dbfixtures import open_database
from tests.e2e.nodes import wait_for

pytestmark = pytest.mark.backends

#: Seconds the ``any`` schedule runs on the cluster (one node is killed and restarted inside).
# CI-sized; EVQUEUE_SCHEDULE_SECONDS=60 gives the long run of the acceptance list.
DURATION = float(os.environ.get("EVQUEUE_SCHEDULE_SECONDS", "14"))
#: The schedule's period, in seconds.
PERIOD = 2
EVERY_PERIOD = ",".join(str(s) for s in range(0, 60, PERIOD)) + ";;;;;"


def _content(path: str, queue: str = "default") -> str:
    xml = (f"<workflow><subjobs><job name='j'><tasks><task path='{path}' queue='{queue}'/>"
           "</tasks></job></subjobs></workflow>")
    return base64.b64encode(xml.encode()).decode()


def _client(node) -> Client:
    return Client(f"unix://{node.socket_path}", "admin", "admin")


def _create(client: Client, name: str, path: str, schedule: str, node: str = "any",
            onfailure: str = "CONTINUE", queue: str = "default") -> tuple[int, int]:
    workflow_id = client.exec(f"<workflow action='create' name='{name}' "
                              f"content='{_content(path, queue)}'/>").get("workflow-id")
    schedule_id = client.exec(f"<workflow_schedule action='create' workflow_id='{workflow_id}' "
                              f"node='{node}' schedule='{schedule}' onfailure='{onfailure}'/>"
                              ).get("schedule-id")
    return int(workflow_id), int(schedule_id)


async def _when_quiet(db_url: str, schedule_id: int, action) -> None:
    """Run ``action`` once the current period's due time is fired and its instance ended.

    No node is then between a claim and its launch, so a node stopped or killed now leaves no
    claimed due time without its instance.
    """
    async with open_database(db_url) as db:
        while True:
            now = time.time()
            phase = now % PERIOD
            due = datetime.datetime.fromtimestamp(now - phase).replace(microsecond=0)
            claim = await schedule_fire_instance(db, schedule_id, due)
            if claim is not None and claim[1] is not None and time.time() % PERIOD < PERIOD - 0.5:
                row = await db.fetch_one(select(t_workflow_instance.c.workflow_instance_status)
                                         .where(t_workflow_instance.c.workflow_instance_id
                                                == claim[1]))
                if row is not None and row.workflow_instance_status == "TERMINATED":
                    action()
                    return
            await asyncio.sleep(0.05)


async def _seed(db_url: str) -> int:
    """The schema, a workflow and its ``any`` schedule, before any node starts."""
    async with open_database(db_url) as db:
        xml = base64.b64decode(_content("/bin/true")).decode()
        workflow_id = await create_workflow(db, "tick", xml)
        return await create_workflow_schedule(db, WorkflowScheduleSpec(
            workflow_id=workflow_id, schedule=EVERY_PERIOD, node_name="any"))


def _in_parallel(calls) -> None:
    with concurrent.futures.ThreadPoolExecutor() as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


async def _fires_and_instances(db_url: str, schedule_id: int):
    async with open_database(db_url) as db:
        fires = await db.fetch_all(
            select(t_schedule_fire).where(t_schedule_fire.c.workflow_schedule_id == schedule_id)
            .order_by(t_schedule_fire.c.due_time))
        wi = t_workflow_instance.c
        instances = await db.fetch_all(
            select(wi.workflow_instance_id, wi.node_name, wi.workflow_instance_status)
            .where(wi.workflow_schedule_id == schedule_id))
    return fires, instances


def test_an_any_schedule_fires_each_due_time_exactly_once_while_a_node_dies(make_node, db_url):
    schedule_id = asyncio.run(_seed(db_url))
    nodes = [make_node(f"node{i}", db_url=db_url) for i in (1, 2, 3)]
    _in_parallel(node.start for node in nodes)  # each loads the schedule at start-up
    started = time.time()
    time.sleep(DURATION / 3)
    victim = nodes[1]
    asyncio.run(_when_quiet(db_url, schedule_id, lambda: victim.stop(signal.SIGKILL)))
    victim.start()
    time.sleep(max(0.0, started + DURATION - time.time()))
    asyncio.run(_when_quiet(db_url, schedule_id,
                            lambda: _in_parallel(node.stop for node in nodes)))

    fires, instances = asyncio.run(_fires_and_instances(db_url, schedule_id))
    due_times = [row.due_time for row in fires]
    assert len(due_times) >= DURATION // PERIOD
    step = datetime.timedelta(seconds=PERIOD)
    assert [b - a for a, b in zip(due_times, due_times[1:], strict=False)] == (
        [step] * (len(due_times) - 1)), due_times  # none missed
    fired = [row.workflow_instance_id for row in fires]
    assert None not in fired
    assert sorted(fired) == sorted(row.workflow_instance_id for row in instances)  # none doubled
    assert {row.workflow_instance_status for row in instances} == {"TERMINATED"}
    assert {row.node_name for row in fires} == {row.node_name for row in instances}


def test_suspend_stops_after_a_failed_run_continue_keeps_firing_status_tells(make_node):
    node = make_node("node1").start()
    with _client(node) as client:
        _, suspended = _create(client, "fails_once", "/bin/false", ";;;;;", "node1", "SUSPEND")
        _, continued = _create(client, "fails_always", "/bin/false", ";;;;;", "all", "CONTINUE")
        client.exec("<queue action='create' name='slow' concurrency='1' scheduler='fifo' "
                    "dynamic='no'/>")
        _, sleeping = _create(client, "sleeper", "/bin/sleep 30", ";;;;;", "node1",
                              queue="slow")
        status = client.exec("<status action='query' type='scheduler'/>")
        [root] = status
        assert root.tag == "status"
        # every second, each is waiting, running, or (fails_once) maybe suspended already
        assert {(w.get("workflow_schedule_id"), w.get("name")) for w in root} <= {
            (str(suspended), "fails_once"), (str(continued), "fails_always"),
            (str(sleeping), "sleeper")}
        for line in root:  # each is waiting for its due time, or already running
            if line.get("scheduled_at") == "running":
                assert set(line.keys()) == {"workflow_schedule_id", "name", "scheduled_at",
                                            "workflow_instance_id"}
            else:
                assert set(line.keys()) == {"workflow_schedule_id", "name", "scheduled_at"}
                datetime.datetime.strptime(line.get("scheduled_at"), "%Y-%m-%d %H:%M:%S")

        def runs(schedule_id: int) -> int:
            listed = client.exec(f"<instances action='list' filter_schedule_id='{schedule_id}'/>")
            return len(listed)

        assert wait_for(lambda: runs(continued) >= 3, timeout=30)
        stored = client.exec(f"<workflow_schedule action='get' id='{suspended}'/>")
        assert stored[0].get("active") == "0"
        assert runs(suspended) == 1
        assert client.exec(f"<workflow_schedule action='get' id='{continued}'/>"
                           )[0].get("active") == "1"
        lines = client.exec("<status action='query' type='scheduler'/>")[0]
        assert str(suspended) not in {w.get("workflow_schedule_id") for w in lines}
        [running] = [w for w in lines if w.get("workflow_schedule_id") == str(sleeping)]
        assert running.get("scheduled_at") == "running"
        assert set(running.keys()) == {"workflow_schedule_id", "name", "workflow_instance_id",
                                       "scheduled_at"}
        client.exec(f"<instance action='kill' id='{running.get('workflow_instance_id')}'/>")



def _tick_starts(client: Client, schedule_id: int) -> list[datetime.datetime]:
    listed = client.exec(f"<instances action='list' filter_schedule_id='{schedule_id}'/>")
    return [datetime.datetime.strptime(w.get("start_time"), "%Y-%m-%d %H:%M:%S")
            for w in listed]


def test_a_stopping_node_fires_no_schedule_while_its_connections_close(make_node):
    """SIGTERM stops the scheduler before the listeners: while a connection busy with a
    synchronous launch keeps the node stopping (up to the API's shutdown grace, 2 s), no due
    time of an every-second schedule fires."""
    node = make_node("node1").start()
    with _client(node) as client:
        slow = _content("/bin/sleep 10")
        client.exec(f"<workflow action='create' name='slow' content='{slow}'/>")
        _, ticking = _create(client, "tick", "/bin/true",
                             ",".join(map(str, range(60))) + ";;;;;", "node1")
        assert wait_for(lambda: len(_tick_starts(client, ticking)) >= 2, timeout=30)
    with _client(node) as busy, concurrent.futures.ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(busy.exec,
                              "<instance action='launch' name='slow' mode='synchronous'/>")
        time.sleep(0.5)  # the synchronous launch runs: its connection is busy
        stopped_at = datetime.datetime.now()
        node.stop()
        concurrent.futures.wait([waiting], timeout=30)
    node.start()
    time.sleep(1)  # a tick saved while running at the stop ends after the restart
    with _client(node) as client:
        starts = _tick_starts(client, ticking)
    # a tick of the second the stop came in may be under way; none may start after it, and
    # the restarted node's come 3 s later at the earliest (2 s of grace, then its start)
    first_late = stopped_at.replace(microsecond=0) + datetime.timedelta(seconds=1)
    assert [t for t in starts if first_late <= t <= stopped_at + datetime.timedelta(seconds=2)
            ] == []
