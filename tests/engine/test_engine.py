"""The asynchronous engine with in-memory ports (fake launcher, store and source)."""

from __future__ import annotations

import asyncio
import datetime
from dataclasses import replace

import pytest
from lxml import etree

from evqueue.engine import EventType, QueueDefinition, StoredInstance
from evqueue.engine.ports import NewInstanceRow
from evqueue.errors import ApiError, InvalidWorkflowParameters, UnknownInstance, UnknownObjectName
from tests.engine.fakes import HOLD, START, MemoryStore, Outcome, make_engine
from tests.engine.workflows import BACKUP, SHORT, TWO_LEVELS, simple

TABLES = '<tables><table name="orders" rows="10"/><table name="tmp" rows="0"/></tables>'
ONE = simple('<task name="t" path="/bin/t" queue="default"/>')
BACKUP_QUEUES = (QueueDefinition("default", 1), QueueDefinition("dump", 2))


def backup_script(command):
    return Outcome(0, TABLES if command.name == "list_tables" else "ok\n")


def xml_of(store: MemoryStore, instance_id: int) -> etree._Element:
    return etree.fromstring(store.rows[instance_id].savepoint)


class TestLaunch:
    async def test_backup_example_end_to_end(self):
        engine, launcher, store, _ = make_engine(
            {"backup": BACKUP}, queues=BACKUP_QUEUES, script=backup_script,
            schedules={"short": SHORT})
        events = []
        engine.events.subscribe(events.append, types=["INSTANCE_STARTED", "INSTANCE_TERMINATED"])
        instance_id = await engine.launch("backup", {"dbname": "sales", "target": "db1"},
                                          comment="nightly")
        assert await engine.wait(instance_id, timeout=5)
        root = xml_of(store, instance_id)
        assert (root.get("status"), root.get("errors"), root.get("name")) == (
            "TERMINATED", "0", "backup")
        assert root.get("comment") == "nightly"
        # queues are served in name order: "default" (mail_report) before "dump"
        assert [s.command.name for s in launcher.spawned] == ["list_tables", "mail_report", ""]
        assert store.rows[instance_id].status == "TERMINATED"
        assert store.parameters[instance_id] == (("dbname", "sales"), ("target", "db1"))
        assert store.filters[instance_id] == (("db", "sales"),)
        assert store.tags[instance_id] == ()
        assert [(e.type, e.object_id) for e in events] == [
            (EventType.INSTANCE_STARTED, instance_id), (EventType.INSTANCE_TERMINATED,
                                                        instance_id)]
        assert engine.instance(instance_id) is None
        assert engine.stats.workflow_instance_launched == 1
        assert engine.stats.workflow_instance_executing == 0
        await engine.stop()

    async def test_unknown_workflow(self):
        engine, *_ = make_engine({})
        with pytest.raises(UnknownObjectName) as error:
            await engine.launch("nosuch")
        assert (str(error.value), error.value.code) == (
            "Unknown Workflow name : nosuch", "UKNOWN_OBJECT")
        assert engine.stats.workflow_exceptions == 1

    async def test_invalid_parameters(self):
        engine, *_ = make_engine({"backup": BACKUP}, schedules={"short": SHORT})
        with pytest.raises(InvalidWorkflowParameters, match=r"passed 0, expected 2"):
            await engine.launch("backup")

    async def test_unknown_retry_schedule(self):
        engine, *_ = make_engine({"backup": BACKUP})
        with pytest.raises(UnknownObjectName, match="Unknown RetrySchedule name : short"):
            await engine.launch("backup", {"dbname": "a", "target": "b"})

    async def test_wait(self):
        engine, launcher, *_ = make_engine({"one": ONE}, script=lambda c: HOLD)
        instance_id = await engine.launch("one")
        assert await engine.wait(instance_id, timeout=0.01) is False
        with pytest.raises(UnknownInstance, match="Unknown instance ID"):
            await engine.wait(999)
        waiter = asyncio.ensure_future(engine.wait(instance_id))
        await launcher.finish(next(iter(launcher.running)))
        assert await waiter is True
        assert await engine.wait(instance_id) is True  # just ended: still known
        await engine.stop()

    async def test_status_and_query(self):
        engine, launcher, *_ = make_engine({"one": ONE}, script=lambda c: HOLD)
        first, second = await engine.launch("one"), await engine.launch("one")
        count, summaries = engine.status()
        assert count == 2 and [s.get("id") for s in summaries] == [str(first), str(second)]
        assert all(len(s) == 0 for s in summaries)
        assert engine.status(limit=1)[1][0].get("id") == str(first)
        assert etree.fromstring(engine.query(first)).get("status") == "EXECUTING"
        assert engine.query(12345) is None
        await engine.stop()

    async def test_a_launch_started_later_is_answered_before_its_task_is_handed_on(self):
        engine, launcher, *_ = make_engine({"one": ONE}, script=lambda c: HOLD,
                                           queues=(QueueDefinition("default", 5),))

        def running() -> int:
            return engine.pool.figures("default").running_tasks  # type: ignore[union-attr]

        first = await engine.launch("one", start_later=True)
        assert running() == 0  # answered before its task went to a queue
        assert etree.fromstring(engine.query(first)).get("status") == "EXECUTING"
        assert running() == 1  # asking about it started it
        await engine.launch("one", start_later=True)
        await engine.launch("one", start_later=True)
        assert running() == 1
        await asyncio.sleep(0)  # the loop's next turn starts them
        assert running() == 3
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(launcher.spawned) == 3
        await engine.stop()

    async def test_launches_start_one_a_turn_while_a_client_waits_in_turn(self):
        """While a client waits for the reply of its lone launch (``batch_rows`` gives a
        number), a burst's instances start one a loop turn, so that the client's read and
        reply come between them; a question about instances still starts them all first."""
        in_turn: list[int | None] = [1]
        engine, launcher, *_ = make_engine({"one": ONE}, script=lambda c: HOLD,
                                           queues=(QueueDefinition("default", 10),),
                                           batch_rows=lambda: in_turn[0])

        def running() -> int:
            return engine.pool.figures("default").running_tasks  # type: ignore[union-attr]

        for _ in range(4):
            await engine.launch("one", start_later=True)
        assert running() == 0
        await asyncio.sleep(0)
        assert running() == 1
        await asyncio.sleep(0)
        assert running() == 2
        assert len(engine.instances()) == 4 and running() == 4  # asked: all started
        for _ in range(3):
            await engine.launch("one", start_later=True)
        in_turn[0] = None  # nobody waits in turn any more: the rest at once
        await asyncio.sleep(0)
        assert running() == 7
        await engine.stop()

    async def test_a_launch_not_started_yet_when_the_engine_stops_is_saved_queued(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD)
        instance_id = await engine.launch("one", start_later=True)
        await engine.stop()
        root = xml_of(store, instance_id)
        assert root.get("status") == "EXECUTING"
        assert root.find(".//task").get("status") == "QUEUED"  # the next start runs it
        assert launcher.spawned == []

    async def test_end_listener(self):
        engine, *_ = make_engine({"one": ONE}, script=lambda c: Outcome(1))
        ended = []
        engine.add_end_listener(ended.append)
        instance_id = await engine.launch("one", schedule_id=None)
        await engine.wait(instance_id)
        assert [(e.instance_id, e.errors) for e in ended] == [(instance_id, 1)]
        assert engine.stats.workflow_instance_errors == 1


class TestQueues:
    async def test_concurrency_of_two(self):
        engine, launcher, *_ = make_engine(
            {"one": ONE}, queues=[QueueDefinition("default", 2)], script=lambda c: HOLD)
        ids = [await engine.launch("one") for _ in range(5)]
        await launcher.settle()
        assert len(launcher.running) == 2
        figures = engine.queue_statistics()[0]
        assert (figures.size, figures.running_tasks) == (3, 2)
        while launcher.running:
            launcher.finish(min(launcher.running))
            await launcher.settle()
            assert len(launcher.running) <= 2
        for instance_id in ids:
            assert await engine.wait(instance_id, timeout=5)
        assert launcher.max_running == 2 and len(launcher.spawned) == 5

    async def test_instances_waiting_in_a_queue_are_packed_and_served_as_the_others(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD)
        ids = [await engine.launch("one") for _ in range(4)]
        await launcher.settle()
        await engine.idle()  # their savepoints are written: the waiting ones are packed
        packed = [i for i in ids if engine.instance(i).packed]
        assert packed == ids[1:]
        count, summaries = engine.status()
        assert count == 4 and {s.get("status") for s in summaries} == {"EXECUTING"}
        assert etree.fromstring(engine.query(ids[3])).find(".//task").get("status") == "QUEUED"
        engine.cancel(ids[3])
        assert await engine.wait(ids[3], timeout=5)
        assert xml_of(store, ids[3]).find(".//task").get("status") == "ABORTED"
        while launcher.running:
            await launcher.finish(min(launcher.running))
            await launcher.settle()
        for instance_id in ids[:3]:
            assert await engine.wait(instance_id, timeout=5)
            assert xml_of(store, instance_id).find(".//task").get("retval") == "0"
        await engine.stop()

    @pytest.mark.parametrize(("scheduler", "expected"), [
        ("prio", ["a1", "a2", "b1", "b2"]),
        ("fifo", ["a1", "b1", "b2", "a2"]),
    ])
    async def test_prio_runs_the_oldest_instance_first(self, scheduler, expected):
        older = simple('<task name="a1" path="a" queue="q"/>').replace(
            "</tasks></job>", '</tasks><subjobs><job name="s"><tasks>'
            '<task name="a2" path="a" queue="q"/></tasks></job></subjobs></job>')
        newer = simple('<task name="b1" path="b" queue="q"/>', '<task name="b2" path="b" '
                       'queue="q"/>')
        engine, launcher, *_ = make_engine(
            {"older": older, "newer": newer}, queues=[QueueDefinition("q", 1, scheduler)],
            script=lambda c: HOLD)
        await engine.launch("older")
        await engine.launch("newer")
        await launcher.settle()
        while launcher.running:
            launcher.finish(min(launcher.running))
            await launcher.settle()
        assert [s.command.name for s in launcher.spawned] == expected

    async def test_dynamic_queues(self):
        xml = simple('<task name="t" path="/x" queue="r" queue_host="h1"/>',
                     '<task name="u" path="/x" queue="r" queue_host="h1"/>',
                     '<task name="v" path="/x" queue="r" queue_host="h2"/>')
        engine, launcher, *_ = make_engine(
            {"w": xml}, queues=[QueueDefinition("r", 1, dynamic=True)], script=lambda c: HOLD)
        await engine.launch("w")
        await launcher.settle()
        assert sorted(s.command.name for s in launcher.spawned) == ["t", "v"]
        assert [f.name for f in engine.queue_statistics()] == ["r", "r@h1", "r@h2"]
        await engine.stop()


class TestRetries:
    async def test_two_level_schedule(self):
        codes = iter([1, 1, 0])
        engine, launcher, store, clock = make_engine(
            {"w": simple('<task name="t" path="/x" queue="default" retry_schedule="two"/>')},
            schedules={"two": TWO_LEVELS}, script=lambda c: Outcome(next(codes)))
        instance_id = await engine.launch("w")
        await launcher.settle()
        assert engine.retrier.next_due() == START + datetime.timedelta(seconds=10)
        clock.advance(9)
        assert engine.retry_due() == 0
        clock.advance(1)
        assert engine.retry_due() == 1
        await launcher.settle()
        assert engine.retrier.next_due() == clock.now() + datetime.timedelta(seconds=60)
        assert engine.flush_retries() == 1
        assert await engine.wait(instance_id, timeout=5)
        assert xml_of(store, instance_id).get("errors") == "0"
        assert len(launcher.spawned) == 3

    async def test_retry_timer_fires(self):
        codes = iter([1, 0])
        engine, launcher, store, clock = make_engine(
            {"w": simple('<task name="t" path="/x" queue="default" retry_delay="1" '
                         'retry_times="1"/>')}, script=lambda c: Outcome(next(codes)))
        clock.current = datetime.datetime.now()  # the timer uses real delays
        instance_id = await engine.launch("w")
        await launcher.settle()
        clock.current += datetime.timedelta(seconds=1)
        assert await engine.wait(instance_id, timeout=5)


class TestControl:
    async def test_cancel(self):
        xml = simple('<task name="run" path="/x" queue="default"/>',
                     '<task name="queued" path="/x" queue="default"/>')
        engine, launcher, store, _ = make_engine({"w": xml}, script=lambda c: HOLD)
        instance_id = await engine.launch("w")
        await launcher.settle()
        assert [s.command.name for s in launcher.spawned] == ["run"]
        engine.cancel(instance_id)
        live = etree.fromstring(engine.query(instance_id))
        queued = live.find(".//task[@name='queued']")
        assert (queued.get("status"), queued.get("error")) == (
            "ABORTED", "Task execution : Aborted on user request")
        assert engine.queue_statistics()[0].size == 0
        await launcher.finish(launcher.spawned[0].tid, Outcome(0))
        assert await engine.wait(instance_id, timeout=5)
        assert xml_of(store, instance_id).get("errors") == "1"
        with pytest.raises(UnknownInstance, match="Unknown workflow instance"):
            engine.cancel(instance_id)

    async def test_kill(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD)
        instance_id = await engine.launch("one")
        await launcher.settle()
        spawned = launcher.spawned[0]
        engine.kill(instance_id)
        assert launcher.killed == [(spawned.tid, spawned.pid)]
        assert await engine.wait(instance_id, timeout=5)
        task = xml_of(store, instance_id).find(".//task")
        assert task.get("retval") == "-1"
        assert task.get("error") == "Won't retry because workflow is cancelling"

    async def test_killtask(self):
        engine, launcher, *_ = make_engine({"one": ONE}, script=lambda c: HOLD)
        instance_id = await engine.launch("one")
        await launcher.settle()
        engine.killtask(instance_id, 424242)
        assert launcher.killed == []
        spawned = launcher.spawned[0]
        engine.killtask(instance_id, spawned.pid)
        assert launcher.killed == [(spawned.tid, spawned.pid)]
        with pytest.raises(UnknownInstance):
            engine.killtask(999, 1)
        assert await engine.wait(instance_id, timeout=5)

    async def test_debug_resume(self):
        xml = simple('<task name="ok" path="/x" queue="default"/>',
                     '<task name="bad" path="/x" queue="default"/>')
        failing = {"bad": 1}
        engine, launcher, store, _ = make_engine(
            {"w": xml}, script=lambda c: Outcome(failing.pop(c.name, 0)))
        first = await engine.launch("w")
        assert await engine.wait(first, timeout=5)
        assert store.rows[first].status == "TERMINATED"
        with pytest.raises(ApiError, match="not terminated") as refused:
            await engine.debug_resume(999)
        assert refused.value.code is None
        second = await engine.debug_resume(first)
        assert second != first
        assert await engine.wait(second, timeout=5)
        root = xml_of(store, second)
        assert root.get("errors") == "0" and root.get("id") == str(second)
        assert [s.command.name for s in launcher.spawned] == ["ok", "bad", "bad"]

    async def test_spawn_failure(self):
        engine, launcher, store, _ = make_engine({"one": ONE})
        launcher.fail_with = "fork failed"
        instance_id = await engine.launch("one")
        assert await engine.wait(instance_id, timeout=5)
        task = xml_of(store, instance_id).find(".//task")
        assert task.get("error") == "Task execution : fork failed"
        assert task.get("tid") is None, "no process ever had a tid"
        assert engine.queue_statistics()[0].running_tasks == 0

    async def test_progress_and_signed_retcode(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD)
        progress = []
        engine.events.subscribe(progress.append, types=["TASK_PROGRESS"])
        instance_id = await engine.launch("one")
        await launcher.settle()
        tid = launcher.spawned[0].tid
        engine.task_progress(tid, 40)
        assert etree.fromstring(engine.query(instance_id)).find(".//task").get(
            "progression") == "40"
        assert len(progress) == 1
        await launcher.finish(tid, Outcome(255))
        assert await engine.wait(instance_id, timeout=5)
        assert xml_of(store, instance_id).find(".//task").get("retval") == "-1"

    async def test_exit_before_the_start_is_recorded(self):
        engine, launcher, store, _ = make_engine({"one": ONE})

        class Racing:
            async def spawn(self, tid, command, record=False):
                await engine.task_exited(tid, 0, "fast", "", "")  # exit seen first
                await asyncio.sleep(0)
                return 77

            def kill(self, tid, pid):
                pass

            def recorded_tids(self, instance_id, evqid):
                return []

        engine._launcher = Racing()
        instance_id = await engine.launch("one")
        assert await engine.wait(instance_id, timeout=5)
        task = xml_of(store, instance_id).find(".//task")
        assert task.get("status") == "TERMINATED" and task.findtext("output") == "fast"

    async def test_progress_before_the_start_is_recorded_is_kept(self):
        """A task that writes its progress at once may be heard of before the forker's reply:
        the progress is shown once the task runs, not lost."""
        engine, launcher, store, _ = make_engine({"one": ONE})
        progress: list = []
        engine.events.subscribe(progress.append, types=["TASK_PROGRESS"])
        started = asyncio.Event()

        class Racing:
            async def spawn(self, tid, command, record=False):
                engine.task_progress(tid, 40)  # progress seen first
                await asyncio.sleep(0)
                started.set()
                return 77

            def kill(self, tid, pid):
                pass

            def recorded_tids(self, instance_id, evqid):
                return []

        engine._launcher = Racing()
        instance_id = await engine.launch("one")
        await started.wait()
        await asyncio.sleep(0)
        task = etree.fromstring(engine.query(instance_id)).find(".//task")
        assert task.get("status") == "EXECUTING" and task.get("progression") == "40"
        assert len(progress) == 1

    async def test_large_output_goes_to_the_datastore(self):
        engine, launcher, store, _ = make_engine(
            {"one": ONE}, script=lambda c: Outcome(0, "x" * 50, "short"), dom_maxsize=20)
        instance_id = await engine.launch("one")
        assert await engine.wait(instance_id, timeout=5)
        task = xml_of(store, instance_id).find(".//task")
        datastore_id = int(task.find("output").get("datastore-id"))
        assert store.datastore[datastore_id] == "x" * 50
        assert task.findtext("stderr") == "short"


class TestSavepoints:
    @pytest.mark.parametrize("level", [0, 1, 2, 3])
    async def test_levels(self, level):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD,
                                                 savepoint_level=level)
        instance_id = await engine.launch("one")
        await launcher.settle()
        assert (instance_id in store.rows) is (level >= 2)
        if level == 3:
            assert xml_of(store, instance_id).find(".//task").get("status") == "EXECUTING"
        elif level == 2:  # beyond evQueue: the running task (its tid) is saved too
            task = xml_of(store, instance_id).find(".//task")
            assert (task.get("status"), task.get("tid")) == ("EXECUTING", "1")
        await launcher.finish(launcher.spawned[0].tid)
        assert await engine.wait(instance_id, timeout=5)
        if level == 0:
            assert store.rows == {}
        else:
            assert store.rows[instance_id].status == "TERMINATED"
            assert (store.writes[-1].custom_filters is not None) is (level >= 2)
            assert store.writes[-1].insert is (level < 2)

    async def test_ids_of_low_levels_continue_the_stored_ones(self):
        store = MemoryStore()
        store.rows[41] = StoredInstance(41, 1, None, "localhost", "TERMINATED", "<workflow/>")
        engine, *_ = make_engine({"one": ONE}, store=store, savepoint_level=1)
        assert await engine.launch("one") == 42
        assert await engine.launch("one") == 43


class TestRestart:
    XML = simple('<task name="running" path="/x" queue="default"/>',
                 '<task name="queued" path="/x" queue="default"/>',
                 '<task name="retry" path="/x" queue="other" retry_delay="300" retry_times="1"/>')
    QUEUES = (QueueDefinition("default", 1), QueueDefinition("other", 1))

    @pytest.mark.parametrize("level", [1, 2])
    async def test_resume_after_shutdown(self, level):
        def first_script(command):
            return Outcome(1) if command.name == "retry" else HOLD
        engine, launcher, store, clock = make_engine(
            {"w": self.XML}, queues=self.QUEUES, script=first_script, savepoint_level=level)
        instance_id = await engine.launch("w")
        await launcher.settle()
        running = launcher.spawned[0]
        assert running.command.name == "running"
        await engine.stop()
        assert store.rows[instance_id].status == "EXECUTING"

        clock.advance(60)
        engine2, launcher2, _, _ = make_engine(
            {"w": self.XML}, queues=self.QUEUES, store=store, clock=clock,
            savepoint_level=level)
        assert await engine2.resume() == [instance_id]
        if level <= 1:
            assert instance_id not in store.rows  # deleted once resumed
        # the queued task runs again; the running one is attached under its tid
        assert [s.command.name for s in launcher2.spawned] == []  # queue still full
        assert engine2.queue_statistics()[0].running_tasks == 1
        assert engine2.retrier.next_due() == clock.now() + datetime.timedelta(seconds=240)
        await engine2.task_exited(running.tid, 0, "done", "", "")
        await launcher2.settle()
        assert [s.command.name for s in launcher2.spawned] == ["queued"]
        assert launcher2.spawned[0].tid > running.tid
        engine2.flush_retries()
        assert await engine2.wait(instance_id, timeout=5)
        root = xml_of(store, instance_id)
        assert root.get("errors") == "0"
        outputs = root.find(".//task[@name='running']/output")
        assert outputs.text == "done"

    @pytest.mark.parametrize("started", [True, False])
    @pytest.mark.parametrize("stored", ["launch", "queued", "starting"])
    async def test_a_task_recorded_as_starting_is_asked_about(self, started, stored):
        """Nothing is stored as a task starts: its start is recorded by the process layer
        first. After a crash there, whatever savepoint the store holds (the launch's, one
        with the task queued, one with its tid too), the process layer tells whether it
        started (attached, never run again) or not (run once)."""
        store = MemoryStore()
        at_spawn: dict = {}

        def crash_point(command):  # what the store and the engine hold as the process starts
            row = store.rows[instance_id]
            at_spawn["row"], at_spawn["xml"] = row, engine.query(instance_id)
            return HOLD

        engine, launcher, _, clock = make_engine({"one": ONE}, store=store,
                                                 script=crash_point, savepoint_window=60)
        instance_id = await engine.launch("one")
        await launcher.settle()
        tid = launcher.spawned[0].tid
        # No write before the start: the store holds the launch's row, nothing started.
        assert etree.fromstring(at_spawn["row"].savepoint).find(".//task").get("status") is None
        [(owner, tids)] = launcher.records.items()
        assert owner[0] == instance_id and tids == [tid]
        evqid = owner[1]
        row = at_spawn["row"]
        if stored != "launch":
            tree = etree.fromstring(at_spawn["xml"])
            task = tree.find(".//task")
            assert (task.get("status"), task.get("tid")) == ("QUEUED", str(tid))
            if stored == "queued":
                del task.attrib["tid"]
            row = replace(row, savepoint=etree.tostring(tree, encoding="unicode"))
        store.rows = {instance_id: row}  # the engine dies there
        engine2, launcher2, _, _ = make_engine({"one": ONE}, store=store, clock=clock,
                                               script=lambda c: HOLD)
        launcher2.records = {(instance_id, evqid): [tid]}
        if started:
            launcher2.monitors[tid] = 4321
        assert await engine2.resume() == [instance_id]
        await launcher2.settle()
        if started:
            assert launcher2.spawned == [] and engine2.attached_tasks() == [(tid, 4321)]
            task = etree.fromstring(engine2.query(instance_id)).find(".//task")
            assert (task.get("status"), task.get("tid"), task.get("pid")) == (
                "EXECUTING", str(tid), "4321")
            await engine2.task_exited(tid, 0, "once", "", "")
        else:
            assert [s.command.name for s in launcher2.spawned] == ["t"]
            await launcher2.finish(launcher2.spawned[0].tid, Outcome(0, "once"))
        assert await engine2.wait(instance_id, timeout=5)
        assert xml_of(store, instance_id).find(".//task").findtext("output") == "once"
        await engine.stop()

    async def test_a_sub_job_task_the_previous_run_started_is_attached(self):
        """The previous run received a's exit, started b (a's sub-job) and died before any
        savepoint said so: a is resumed running, its exit collected again, and b, recorded
        as started, is attached instead of run a second time."""
        chain = ('<workflow><subjobs><job name="j"><tasks><task name="a" path="/bin/a" '
                 'queue="default"/></tasks><subjobs><job name="k"><tasks><task name="b" '
                 'path="/bin/b" queue="default"/></tasks></job></subjobs></job></subjobs>'
                 '</workflow>')
        store = MemoryStore()
        engine, launcher, _, clock = make_engine({"chain": chain}, store=store,
                                                 script=lambda c: HOLD, savepoint_window=60)
        instance_id = await engine.launch("chain")
        await launcher.settle()  # a runs, stored so
        [a] = launcher.spawned
        before = dict(store.rows)
        launcher.finish(a.tid, Outcome(0, "a's"))
        await asyncio.sleep(0.05)
        [_, b] = launcher.spawned
        store.rows = before  # the engine dies there: b's start is only recorded
        assert xml_of(store, instance_id).find(".//task[@name='a']").get("status") == "EXECUTING"
        engine2, launcher2, _, _ = make_engine({"chain": chain}, store=store, clock=clock,
                                               script=lambda c: HOLD)
        launcher2.records = dict(launcher.records)
        launcher2.monitors = {a.tid: a.pid, b.tid: b.pid}
        await engine2.resume()
        await engine2.task_exited(a.tid, 0, "a's", "", "")  # collected after the restart
        await launcher2.settle()
        assert launcher2.spawned == [] and engine2.attached_tasks() == [(b.tid, b.pid)]
        task = etree.fromstring(engine2.query(instance_id)).find(".//task[@name='b']")
        assert (task.get("status"), task.get("tid")) == ("EXECUTING", str(b.tid))
        await engine2.task_exited(b.tid, 0, "b's", "", "")
        assert await engine2.wait(instance_id, timeout=5)
        final = xml_of(store, instance_id)
        assert [t.findtext("output") for t in final.iter("task")] == ["a's", "b's"]
        assert engine2.queue_statistics()[0].running_tasks == 0
        await engine.stop()

    async def test_a_result_is_released_once_stored(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD,
                                                 savepoint_window=60)
        instance_id = await engine.launch("one")
        await launcher.settle()
        tid = launcher.spawned[0].tid
        store.fail_writes = 1000  # the store is away: the result is not stored
        launcher.finish(tid, Outcome(0, "out"))
        await asyncio.sleep(0.1)
        assert launcher.released == [] and tid in engine.known_tids()
        store.fail_writes = 0
        assert await engine.wait(instance_id, timeout=10)
        assert launcher.released == [tid] and tid not in engine.known_tids()
        await engine.stop()

    async def test_a_result_given_up_by_the_writer_is_released_only_once_stored(self):
        engine, launcher, store, _ = make_engine(
            {"one": ONE}, script=lambda c: HOLD, savepoint_level=3,
            savepoint_retry_times=1, savepoint_retry_wait=0)
        instance_id = await engine.launch("one")
        await launcher.settle()
        tid = launcher.spawned[0].tid
        store.fail_writes = 4  # the final write fails twice, is given up, fails once more
        launcher.finish(tid, Outcome(0, "out"))
        assert await engine.wait(instance_id, timeout=5)  # the engine went on
        assert store.rows[instance_id].status == "EXECUTING" and launcher.released == []
        for _ in range(60):  # the writer tries again every second (at least)
            if launcher.released:
                break
            await asyncio.sleep(0.05)
        assert store.rows[instance_id].status == "TERMINATED"
        assert launcher.released == [tid]
        await engine.stop()

    async def test_empty_savepoint_is_not_resumed(self):
        # A crash between the launch's row insert and its first write (before the launch
        # was answered) leaves a row with an empty savepoint.
        store = MemoryStore()
        engine, *_ = make_engine({"one": ONE}, store=store, script=lambda c: HOLD)
        instance_id = await store.create_instance(NewInstanceRow(
            workflow_id=1, node_name="localhost", schedule_id=None, host="", comment="",
            start_time=datetime.datetime(2026, 1, 1), parameters=None))
        assert await engine.resume() == []
        assert store.rows[instance_id].status == "TERMINATED"
        await engine.stop()

    async def test_a_launch_row_holds_the_instance_from_its_first_transaction(self):
        store = MemoryStore()
        engine, *_ = make_engine({"one": ONE}, store=store, script=lambda c: HOLD,
                                 savepoint_window=60)
        inserted = {}
        create = store.create_instance

        async def create_and_keep(row, *, alone=False):  # the row as its transaction left it
            instance_id = await create(row, alone=alone)
            inserted[instance_id] = store.rows[instance_id]
            return instance_id

        store.create_instance = create_and_keep
        instance_id = await engine.launch("one")
        unstarted = inserted[instance_id]
        assert etree.fromstring(unstarted.savepoint.encode()).get("status") is None
        # The engine dies right after the insert: the row alone is in the store.
        crashed = MemoryStore()
        crashed.rows = {instance_id: unstarted}
        engine2, launcher2, *_ = make_engine({"one": ONE}, store=crashed,
                                             script=lambda c: HOLD)
        assert await engine2.resume() == [instance_id]
        await launcher2.settle()
        assert [s.command.name for s in launcher2.spawned] == ["t"]  # started from scratch
        await launcher2.finish(launcher2.spawned[0].tid, Outcome(0, "ran"))
        assert await engine2.wait(instance_id, timeout=5)
        assert xml_of(crashed, instance_id).find(".//task").findtext("output") == "ran"
        await engine.stop()

    async def test_migrate(self):
        store = MemoryStore()
        engine, launcher, _, clock = make_engine({"one": ONE}, store=store,
                                                 script=lambda c: HOLD, node_name="node1")
        instance_id = await engine.launch("one")
        while not launcher.running:  # its task has started
            await asyncio.sleep(0.01)
        await engine.stop()
        engine2, launcher2, _, _ = make_engine({"one": ONE}, store=store, clock=clock,
                                               node_name="node2")
        with pytest.raises(ApiError, match="already belongs"):
            await engine.migrate(instance_id)
        await engine2.migrate(instance_id)
        assert store.rows[instance_id].node_name == "node2"
        assert await engine2.wait(instance_id, timeout=5)
        task = xml_of(store, instance_id).find(".//task")
        assert task.findtext("output") == "Task migrated" and task.get("retval") == "-1"


class TestLevelTwoBeyondEvqueue:
    """Level 2 also saves running instances (coalesced), so a crash loses little."""

    async def test_changes_within_the_window_are_one_batch(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD,
                                                 savepoint_window=0.05)
        first, second = await engine.launch("one"), await engine.launch("one")
        await asyncio.sleep(0.3)  # the window's own timer, not idle(), writes the rest
        # One write for both launches' changes gathered in the window (the rows held the
        # unstarted instances); nothing was written for the start of the first's task.
        assert len(store.batches) == 1
        assert {w.instance_id for w in store.batches[0]} == {first, second}
        task = xml_of(store, first).find(".//task")
        assert (task.get("tid"), task.get("status")) == ("1", "EXECUTING")
        assert xml_of(store, second).find(".//task").get("status") == "QUEUED"
        for spawned in list(launcher.running):
            launcher.finish(spawned)
        assert await engine.wait(first, timeout=5)
        await launcher.settle()
        launcher.finish(launcher.spawned[-1].tid)
        assert await engine.wait(second, timeout=5)
        assert store.rows[second].status == "TERMINATED"
        assert xml_of(store, second).get("status") == "TERMINATED"

    async def test_a_crash_resumes_the_running_task_by_tid(self):
        store = MemoryStore()
        engine, launcher, _, clock = make_engine({"one": ONE}, store=store,
                                                 script=lambda c: HOLD)
        instance_id = await engine.launch("one")
        await launcher.settle()
        tid = launcher.spawned[0].tid
        # no stop(): the engine died; a new one resumes from the level-2 savepoint
        engine2, launcher2, _, _ = make_engine({"one": ONE}, store=store, clock=clock)
        assert await engine2.resume() == [instance_id]
        assert engine2.attached_tasks() == [(tid, launcher.spawned[0].pid)]
        assert engine2.is_attached(tid)
        engine2.report_exit(tid, 0, "done", "", "")
        assert await engine2.wait(instance_id, timeout=5)
        assert not engine2.is_attached(tid) and launcher2.spawned == []
        assert xml_of(store, instance_id).find(".//task/output").text == "done"
        await engine.stop()


class TestShutdown:
    async def test_hold_starts_nothing_but_records_exits(self):
        two = simple('<task name="a" path="/x" queue="default"/>',
                     '<task name="b" path="/x" queue="default"/>')
        engine, launcher, store, _ = make_engine({"two": two}, script=lambda c: HOLD)
        instance_id = await engine.launch("two")
        await launcher.settle()
        engine.hold()
        launcher.finish(launcher.spawned[0].tid, Outcome(0, "a done"))
        await launcher.settle()
        assert len(launcher.spawned) == 1, "b stays queued"
        await engine.stop()
        root = xml_of(store, instance_id)
        assert root.find(".//task[@name='a']/output").text == "a done"
        assert root.find(".//task[@name='b']").get("status") == "QUEUED"

    async def test_stop_waits_for_exits_reported_before_it(self):
        engine, launcher, store, _ = make_engine({"one": ONE}, script=lambda c: HOLD)
        instance_id = await engine.launch("one")
        await launcher.settle()
        engine.report_exit(launcher.spawned[0].tid, 0, "late", "", "")
        await engine.stop()
        assert store.rows[instance_id].status == "TERMINATED"
        assert xml_of(store, instance_id).find(".//task/output").text == "late"


class TestForkFailure:
    async def test_an_exit_reported_before_a_zero_pid_start_ends_the_task(self):
        # the process layer reports a failed fork as an exit, then the spawn returns pid 0
        engine, launcher, store, _ = make_engine({"one": ONE})

        async def failing_spawn(tid, command, record=False):
            engine.report_exit(tid, -1, "", "Could not fork monitor: no memory", "")
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            return 0

        launcher.spawn = failing_spawn
        instance_id = await engine.launch("one")
        assert await engine.wait(instance_id, timeout=5)
        task = xml_of(store, instance_id).find(".//task")
        assert (task.get("status"), task.get("retval")) == ("TERMINATED", "-1")
        assert task.findtext("stderr") == "Could not fork monitor: no memory"
        assert engine.queue_statistics()[0].running_tasks == 0
