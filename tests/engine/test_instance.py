"""The instance state machine, driven without the engine (semantics.md §1.3–2.7)."""

from __future__ import annotations

import datetime

import pytest
from lxml import etree

from evqueue.engine import (
    Instance,
    InvalidTransition,
    QueueDefinition,
    QueuePool,
    TaskResult,
)
from evqueue.engine.actions import (
    ArmRetry,
    AttachTask,
    CancelQueued,
    CancelRetries,
    Emit,
    EnqueueTask,
    InstanceEnded,
    KillTask,
)
from evqueue.errors import InvalidWorkflowParameters, UnknownObjectName
from tests.engine.drive import HOLD, Driver, Outcome, make_instance
from tests.engine.fakes import START
from tests.engine.workflows import BACKUP, SHORT, simple

TABLES = '<tables><table name="orders" rows="10"/><table name="tmp" rows="0"/></tables>'
QUEUES = (QueueDefinition("default", 1), QueueDefinition("dump", 2))


def backup(script=None) -> Driver:
    instance = make_instance(BACKUP, {"dbname": "sales", "target": "db1"}, queues=QUEUES,
                             schedules={"short": SHORT}, instance_id=42)
    return Driver(instance, script or backup_script)


def backup_script(command):
    if command.name == "list_tables":
        return Outcome(0, TABLES)
    if command.name == "mail_report":
        return Outcome(0, "report sent to ops@example.com\n")
    return Outcome(0, "dumped\n")


class TestBackupExample:
    """The §1.3 workflow run to completion; the result is the §2.7 instance XML."""

    def test_final_statuses(self):
        d = backup().start().run()
        root = d.root
        assert root.get("status") == "TERMINATED"
        assert root.get("errors") == "0"
        assert (root.get("name"), root.get("id")) == ("wf", "42")
        assert root.get("start_time") == "2024-01-10 10:00:00"
        assert root.get("end_time") == "2024-01-10 10:00:00"
        assert d.ended == InstanceEnded(42, 0)
        assert root.get("running_tasks") == "0" and root.get("queued_tasks") == "0"

    def test_parameters_are_text(self):
        d = backup().start()
        assert [(p.get("name"), p.text) for p in d.root.iterfind("parameters/parameter")] == [
            ("dbname", "sales"), ("target", "db1")]

    def test_ids_follow_the_order_of_events(self):
        d = backup().start()
        assert d.root.get("evqid") == "1"
        assert d.job("list").get("evqid") == "2"
        assert d.task("list_tables").get("evqid") == "3"
        report = d.job("report")
        assert (report.get("evqid"), report.get("status")) == ("4", "WAITING")
        assert report.get("details") == "Waiting for condition to become true"
        assert d.root.get("waiting_conditions") == "1"

    def test_list_tables(self):
        d = backup().start().run()
        task = d.task("list_tables")
        assert task.get("status") == "TERMINATED" and task.get("retval") == "0"
        assert task.get("progression") == "100" and task.get("context-id") == "1"
        assert task.find("input").get("mode") == "text" and task.find("input").text == "sales"
        output = task.find("output")
        assert output.get("method") == "xml" and output.get("retval") == "0"
        assert [t.get("name") for t in output.iterfind("tables/table")] == ["orders", "tmp"]
        assert [c.tag for c in task if c.tag in ("output", "stderr", "log")] == [
            "output", "stderr", "log"]
        assert d.commands[0].path == "list_tables.sh"
        assert d.commands[0].args == ("--verbose", "sales")

    def test_dump_loop(self):
        d = backup().start().run()
        done, skipped = d.root.xpath("//job[@name='dump']")
        assert done.get("details") == "Condition evaluates to true"
        assert done.get("context-id") == d.one("//output//table[@name='orders']").get("evqid")
        assert skipped.get("status") == "SKIPPED"
        assert skipped.get("details") == "Condition evaluates to false"
        assert skipped.get("context-id") == d.one("//output//table[@name='tmp']").get("evqid")
        task = done.find("tasks/task")
        assert task.get("status") == "TERMINATED" and task.get("host") == "db1"
        assert [(i.get("name"), i.text) for i in task.iterfind("input")] == [
            ("TABLE", "orders"), ("FILE", "/backup/sales-orders.sql")]
        # the skipped clone keeps its expressions unevaluated
        assert skipped.find("tasks/task").get("host").startswith("{")
        dump = [c for c in d.commands if c.path == "/usr/local/bin/dump_table"]
        assert len(dump) == 1
        assert dump[0].env == {"TABLE": "orders", "FILE": "/backup/sales-orders.sql"}
        assert (dump[0].host, dump[0].user, dump[0].use_agent) == ("db1", "backup", True)

    def test_report_waits_then_runs(self):
        d = backup().start().run()
        report = d.job("report")
        assert report.get("status") is None
        assert report.get("details") == "Condition evaluates to true"
        assert report.get("waiting_conditions") == "0"
        task = d.task("mail_report")
        assert task.get("status") == "TERMINATED"
        assert task.find("stdin").get("mode") == "xml"
        assert task.find("stdin/tables/table").get("name") == "orders"
        assert task.find("output").text == "report sent to ops@example.com\n"
        command = next(c for c in d.commands if c.name == "mail_report")
        assert command.type == "SCRIPT" and command.args == ("ops@example.com",)
        assert command.stdin.startswith(b'<stdin mode="xml"><tables>')
        assert command.script.startswith("#!/bin/sh\ncat > /tmp/tables.xml")

    def test_schedule_copied_in(self):
        d = backup()
        schedule = d.one("/workflow/schedules/schedule")
        assert schedule.get("name") == "short" and len(schedule) == 2
        assert d.root[-1].tag == "schedules"  # appended after <subjobs>

    def test_custom_attributes_and_tags(self):
        d = backup().start().run()
        assert d.instance.custom_attributes() == [("db", "sales")]
        assert d.instance.automatic_tags() == []

    def test_retried_list_tables(self):
        attempts = []

        def script(command):
            if command.name == "list_tables":
                attempts.append(command)
                return Outcome(75, "busy") if len(attempts) == 1 else Outcome(0, TABLES)
            return backup_script(command)

        d = backup(script).start().run()
        task = d.task("list_tables")
        assert task.get("retry_schedule_level") == "1" and task.get("retry_times") == "2"
        assert task.get("retry_at") == "2024-01-10 10:00:10"
        assert d.retries == [ArmRetry(42, "3", datetime.datetime(2024, 1, 10, 10, 0, 10))]
        assert d.root.get("retrying_tasks") == "1" and d.ended is None
        d.fire_retries()
        assert d.ended == InstanceEnded(42, 0)
        assert [o.get("retval") for o in task.iterfind("output")] == ["75", "0"]
        assert d.instance.automatic_tags() == ["had-retries"]


class TestEvents:
    def test_task_and_instance_events(self):
        d = backup().start().run()
        events = [a.event for a in d.log if isinstance(a, Emit)]
        assert events[:3] == ["TASK_ENQUEUE", "INSTANCE_STARTED", "TASK_EXECUTE"]
        assert events.count("TASK_TERMINATE") == 3
        assert all(isinstance(a, Emit) and a.object_id == 42 for a in d.log if isinstance(a, Emit))

    def test_started_comes_before_the_end(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default" '
                                        'condition="false()"/>'))).start()
        kinds = [type(a).__name__ for a in d.log]
        assert kinds == ["Emit", "InstanceEnded"]


class TestLaunchChecks:
    def test_missing_parameter(self):
        with pytest.raises(InvalidWorkflowParameters) as error:
            make_instance(BACKUP, {"dbname": "sales"}, schedules={"short": SHORT})
        assert str(error.value) == (
            "Invalid number of parameters passed to workflow (passed 1, expected 2)")
        assert error.value.code == "INVALID_WORKFLOW_PARAMETERS"

    def test_no_parameters(self):
        with pytest.raises(InvalidWorkflowParameters, match=r"\(passed 0, expected 2\)"):
            make_instance(BACKUP, {}, schedules={"short": SHORT})

    def test_unknown_parameter(self):
        with pytest.raises(InvalidWorkflowParameters) as error:
            make_instance(BACKUP, {"dbname": "a", "nope": "b"}, schedules={"short": SHORT})
        assert str(error.value) == "Unknown parameter : nope"

    def test_repeated_parameter_keeps_the_first(self):
        instance = Instance.create(
            BACKUP, name="backup", parameters=[("dbname", "a"), ("dbname", "b"), ("target", "t")],
            retry_schedules={"short": SHORT}, queues=QueuePool())
        assert instance.root.findtext("parameters/parameter[@name='dbname']") == "a"

    def test_unknown_retry_schedule(self):
        with pytest.raises(UnknownObjectName, match="Unknown RetrySchedule name : short"):
            make_instance(BACKUP, {"dbname": "a", "target": "b"})

    def test_required_schedules(self):
        assert Instance.required_schedules(BACKUP) == ("short",)

    def test_schedules_are_imported_once_each_in_document_order(self):
        instance = make_instance(simple(
            '<task name="a" path="x" queue="default" retry_schedule="two"/>',
            '<task name="b" path="x" queue="default" retry_schedule="short"/>',
            '<task name="c" path="x" queue="default" retry_schedule="two"/>',
        ), schedules={"short": SHORT, "two": SHORT})
        assert [s.get("name") for s in instance.root.iterfind("schedules/schedule")] == [
            "two", "short"]

    def test_an_empty_retry_schedule_is_looked_up_as_in_evqueue(self):
        with pytest.raises(UnknownObjectName) as error:
            make_instance(simple('<task name="t" path="x" queue="default" retry_schedule=""/>'))
        assert str(error.value) == "Unknown RetrySchedule name : "

    def test_host_user_comment(self):
        instance = make_instance(simple(), host="h1", user="bob", comment="hi")
        assert [instance.root.get(a) for a in ("host", "user", "comment")] == ["h1", "bob", "hi"]
        no_host = make_instance(simple(), user="bob")
        assert no_host.root.get("user") is None  # only recorded with a host


class TestLifecycle:
    def test_unknown_queue(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="nope"/>'))).start()
        task = d.task("t")
        assert (task.get("status"), task.get("error")) == ("ABORTED", "Unknown queue name")
        assert d.ended == InstanceEnded(1, 1)
        assert d.root.get("errors") == "1"

    def test_task_failing_without_retry_blocks_subjobs(self):
        xml = simple('<task name="a" path="a" queue="default"/>',
                     extra_jobs="") .replace(
            "</tasks></job>", '</tasks><subjobs><job name="sub"><tasks>'
            '<task name="b" path="b" queue="default"/></tasks></job></subjobs></job>')
        d = Driver(make_instance(xml), lambda c: Outcome(3, "out", "err")).start().run()
        task = d.task("a")
        assert (task.get("status"), task.get("retval")) == ("TERMINATED", "3")
        assert task.find("output").get("method") == "text" and task.findtext("stderr") == "err"
        assert d.job("sub").get("evqid") is None  # never started
        assert d.ended == InstanceEnded(1, 1)
        assert d.root.get("error_tasks") == "1" and d.job("main").get("error_tasks") == "1"

    def test_invalid_xml_output(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default" '
                                        'output-method="XML"/>')),
                   lambda c: Outcome(0, "not <xml")).start().run()
        task = d.task("t")
        assert (task.get("status"), task.get("error")) == ("ABORTED", "Invalid XML returned")
        assert task.find("output").get("method") == "text"
        assert task.findtext("output") == "not <xml"
        assert d.ended == InstanceEnded(1, 1)

    def test_start_failure(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default"/>'))).start()
        queued = d.queued.popleft()
        d.handle(d.instance.task_failed_to_start(queued.evqid, "could not fork", d.now))
        task = d.task("t")
        assert task.get("error") == "Task execution : could not fork"
        assert d.ended == InstanceEnded(1, 1)

    def test_progress(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default"/>')),
                   lambda c: HOLD).start().run()
        evqid = d.task("t").get("evqid")
        assert d.instance.task_progress(evqid, 150) == [Emit("TASK_PROGRESS", 1)]
        assert d.task("t").get("progression") == "100"
        d.instance.task_progress(evqid, 42)
        assert d.task("t").get("progression") == "42"

    def test_running_attributes(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default"/>')),
                   lambda c: HOLD).start().run()
        task = d.task("t")
        assert (task.get("status"), task.get("tid"), task.get("pid")) == ("EXECUTING", "1", "1001")
        assert task.get("execution_time") == "2024-01-10 10:00:00"
        assert d.root.get("running_tasks") == "1" and d.root.get("queued_tasks") == "0"
        d.end(task.get("evqid"))
        assert task.get("tid") is None and task.get("pid") is None

    def test_invalid_transition_raises(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default"/>'))).start()
        d.run()
        with pytest.raises(InvalidTransition):
            d.instance.task_running(d.task("t").get("evqid"), 9, 9, d.now)

    def test_summary_is_shallow(self):
        d = Driver(make_instance(simple('<task name="t" path="x" queue="default"/>'))).start()
        summary = d.instance.summary()
        assert len(summary) == 0 and summary.get("status") == "EXECUTING"


class TestCancelKill:
    XML = simple('<task name="run" path="r" queue="default"/>',
                 '<task name="wait" path="w" queue="default"/>',
                 '<task name="retry" path="f" queue="other" retry_delay="30" retry_times="2"/>')
    QUEUES = (QueueDefinition("default", 1), QueueDefinition("other", 1))

    def driver(self) -> Driver:
        def script(command):
            return Outcome(1) if command.name == "retry" else HOLD
        d = Driver(make_instance(self.XML, queues=self.QUEUES), script).start()
        # "run" and "retry" start; "wait" stays queued; "retry" fails and waits 30 s.
        d.queued.remove(next(q for q in d.queued if q.command.name == "wait"))
        waiting = d.task("wait").get("evqid")
        d.run()
        return d, waiting

    def test_cancel(self):
        d, waiting = self.driver()
        assert len(d.retries) == 1
        # the engine would hand the queued task back: put it where the driver cancels it
        d.queued.append(EnqueueTask(1, waiting, "default", None))
        d.handle(d.instance.cancel(d.now))
        assert d.instance.cancelling
        assert d.task("retry").get("error") == "Aborted on user request"
        assert d.task("retry").get("status") == "ABORTED"
        wait = d.task("wait")
        assert wait.get("error") == "Task execution : Aborted on user request"
        assert d.task("run").get("status") == "EXECUTING"  # running tasks go on
        assert d.ended is None
        kinds = [type(a) for a in d.log[-6:]]
        assert CancelRetries in kinds and CancelQueued in kinds
        d.end(d.task("run").get("evqid"), Outcome(2))
        assert d.task("run").get("error") == "Won't retry because workflow is cancelling"
        # errors: the pending retry, the queued task, the task failing while cancelling
        assert d.ended == InstanceEnded(1, 3)

    def test_tasks_a_cancel_aborts_are_told_to_event_subscribers(self):
        d, waiting = self.driver()
        d.queued.append(EnqueueTask(1, waiting, "default", None))
        mark = len(d.log)
        d.handle(d.instance.cancel(d.now))
        # the retry and the queued task end now, while "run" goes on: one event for each
        events = [a for a in d.log[mark:] if isinstance(a, Emit)]
        assert events == [Emit("TASK_TERMINATE", 1)] * 2

    def test_kill(self):
        d, waiting = self.driver()
        run = d.task("run")
        actions = d.instance.kill(d.now)
        kills = [a for a in actions if isinstance(a, KillTask)]
        assert kills == [KillTask(1, run.get("evqid"), int(run.get("tid")), int(run.get("pid")))]

    def test_killtask(self):
        d, _ = self.driver()
        run = d.task("run")
        assert d.instance.killtask(12345) == []
        assert d.instance.killtask(int(run.get("pid"))) == [
            KillTask(1, run.get("evqid"), int(run.get("tid")), int(run.get("pid")))]
        assert not d.instance.cancelling


class TestRestart:
    XML = simple('<task name="done" path="d" queue="default"/>',
                 '<task name="running" path="r" queue="default"/>',
                 '<task name="queued" path="q" queue="default"/>',
                 '<task name="retrying" path="f" queue="default" retry_delay="100" '
                 'retry_times="1"/>',
                 extra_jobs='<job name="later" condition="evqWait(count(//job[@name=\'main\']'
                            '/tasks/task[@status=\'TERMINATED\' and @retval=0]) = 4)"><tasks>'
                            '<task name="l" path="l" queue="default"/></tasks></job>')

    def savepoint(self) -> tuple[str, Driver]:
        def script(command):
            return {"done": Outcome(0), "running": HOLD, "retrying": Outcome(1)}.get(
                command.name, HOLD)
        instance = make_instance(self.XML, queues=(QueueDefinition("default", 10),))
        d = Driver(instance, script).start()
        held = [q for q in d.queued if q.command.name == "queued"]
        for q in held:
            d.queued.remove(q)
        d.run()
        return instance.to_xml(), d

    def test_resume(self):
        xml, before = self.savepoint()
        running = before.task("running")
        resumed = Instance.from_savepoint(xml, instance_id=1, workflow_id=7,
                                          queues=QueuePool([QueueDefinition("default", 10)]))
        actions = resumed.resume(before.now + datetime.timedelta(seconds=5))
        assert [a.command.name for a in actions if isinstance(a, EnqueueTask)] == ["queued"]
        assert [a for a in actions if isinstance(a, AttachTask)] == [
            AttachTask(1, running.get("evqid"), "default", int(running.get("tid")),
                       int(running.get("pid")))]
        retry = before.task("retrying")
        assert [a for a in actions if isinstance(a, ArmRetry)] == [
            ArmRetry(1, retry.get("evqid"), datetime.datetime(2024, 1, 10, 10, 1, 40))]
        root = resumed.root
        assert root.get("running_tasks") == "2" and root.get("queued_tasks") == "1"
        assert root.get("retrying_tasks") == "1" and root.get("waiting_conditions") == "1"
        assert resumed.status == "EXECUTING" and Emit("INSTANCE_STARTED", 1) in actions

    def test_resumed_instance_completes(self):
        xml, before = self.savepoint()
        resumed = Instance.from_savepoint(xml, instance_id=1,
                                          queues=QueuePool([QueueDefinition("default", 10)]))
        d = Driver(resumed)
        d.handle(resumed.resume(before.now))
        d.run()
        d.end(before.task("running").get("evqid"))
        assert d.ended is None
        d.fire_retries()
        assert d.task("l").get("status") == "TERMINATED"  # evqWait released
        assert d.ended == InstanceEnded(1, 0)

    def test_debug_resume(self):
        xml = simple('<task name="ok" path="a" queue="default"/>',
                     '<task name="bad" path="b" queue="default"/>').replace(
            "</tasks></job>", '</tasks><subjobs><job name="next"><tasks>'
            '<task name="after" path="c" queue="default"/></tasks></job></subjobs></job>')
        first = Driver(make_instance(xml), lambda c: Outcome(1 if c.name == "bad" else 0))
        first.start().run()
        assert first.ended == InstanceEnded(1, 1)
        copy = Instance.from_savepoint(first.instance.to_xml(), instance_id=2,
                                       queues=QueuePool([QueueDefinition("default", 1)]))
        d = Driver(copy)
        d.advance(3600)
        d.handle(copy.debug_resume(d.now))
        bad = d.task("bad")
        assert bad.get("status") == "QUEUED" and bad.get("retval") is None
        assert d.root.get("status") == "EXECUTING" and d.root.get("id") == "2"
        assert d.root.get("end_time") is None and d.root.get("start_time") == "2024-01-10 11:00:00"
        d.run()
        assert [o.get("retval") for o in bad.iterfind("output")] == ["1", "0"]
        assert d.task("after").get("status") == "TERMINATED"
        assert d.ended == InstanceEnded(2, 0)
        assert d.task("ok").get("status") == "TERMINATED" and len(d.commands) == 2

    def test_migrate(self):
        xml, before = self.savepoint()
        adopted = Instance.from_savepoint(xml, instance_id=1,
                                          queues=QueuePool([QueueDefinition("default", 10)]))
        d = Driver(adopted)
        d.handle(adopted.migrate(before.now))
        running = d.task("running")
        assert running.get("status") == "TERMINATED" and running.get("retval") == "-1"
        assert running.findtext("output[last()]") == "Task migrated"
        assert not [a for a in d.log if isinstance(a, AttachTask)]


def test_task_results_are_typed():
    result = TaskResult(0)
    assert (result.stdout, result.stderr, result.log) == ("", "", "")


class TestPacking:
    """An instance whose tasks all wait in queues keeps its XML text instead of its tree."""

    TWO = simple('<task name="a" path="/bin/a" queue="default"/>',
                 '<task name="b" path="/bin/b" queue="default"/>')

    def test_it_is_packed_when_its_xml_is_written_and_runs_on_as_before(self):
        packed, twin = Driver(make_instance(self.TWO)).start(), Driver(make_instance(self.TWO))
        twin.start()

        def never_packed() -> str:  # the twin's XML, read without to_xml (which packs)
            return etree.tostring(twin.instance.root, encoding="unicode")

        xml = packed.instance.to_xml()
        assert packed.instance.packed and not twin.instance.packed
        assert xml == never_packed() == packed.instance.to_xml()
        assert packed.instance.status == "EXECUTING" and packed.instance.started
        assert packed.instance.summary().attrib == twin.instance.summary().attrib
        assert packed.instance.start_time == twin.instance.start_time
        assert packed.instance.executing_tasks() == []
        assert packed.instance.packed  # reading it did not bring its tree back
        packed.run(), twin.run()
        assert not packed.instance.packed and not twin.instance.packed
        assert packed.ended == twin.ended == InstanceEnded(1, 0)
        assert packed.instance.to_xml() == never_packed()

    def test_a_wide_packed_instance_is_read_without_parsing_it_whole(self):
        wide = simple(*['<task name="t" path="/bin/t" queue="default"/>'] * 300)
        packed, twin = Driver(make_instance(wide)).start(), Driver(make_instance(wide)).start()
        assert len(packed.instance.to_xml()) > 20_000 and packed.instance.packed
        assert packed.instance.attributes() == twin.instance.attributes()
        assert packed.instance.summary().attrib == twin.instance.summary().attrib
        assert (packed.instance.name, packed.instance.start_time) == ("wf", START)
        assert packed.instance.end_time is None and packed.instance.packed

    def test_it_is_not_packed_while_a_task_runs_or_is_about_to_start(self):
        d = Driver(make_instance(self.TWO), script=lambda command: HOLD).start()
        first, second = d.queued
        d.instance.task_starting(first.evqid, 7)  # the engine is starting it
        d.instance.to_xml()
        assert not d.instance.packed
        d.queued.popleft()
        d.handle(d.instance.task_running(first.evqid, 7, 1007, d.now))
        d.instance.to_xml()
        assert not d.instance.packed
        d.end(first.evqid)
        d.instance.to_xml()  # only b is left, waiting in its queue
        assert d.instance.packed
        d.run()
        d.end(second.evqid)
        assert d.ended == InstanceEnded(1, 0) and not d.instance.packed

    def test_a_pending_retry_or_a_cancel_keeps_the_tree(self):
        retried = simple('<task name="a" path="/bin/a" queue="default" retry_delay="60" '
                         'retry_retval="1" retry_times="1"/>',
                         '<task name="b" path="/bin/b" queue="default"/>')
        d = Driver(make_instance(retried),
                   script=lambda c: Outcome(1) if c.name == "a" else HOLD).start()
        first, second = d.queued
        d.queued.clear()
        d.handle(d.instance.task_running(first.evqid, 1, 1001, d.now))
        d.end(first.evqid, Outcome(1))
        assert d.retries
        d.instance.to_xml()
        assert not d.instance.packed  # b waits, a's retry is armed
        cancelled = Driver(make_instance(self.TWO)).start()
        cancelled.handle(cancelled.instance.cancel(cancelled.now))
        assert cancelled.ended == InstanceEnded(1, 2)
        cancelled.instance.to_xml()
        assert not cancelled.instance.packed
