"""One workflow instance: a pure state machine over its lxml tree.

An :class:`Instance` performs no I/O and never reads the clock: every method takes ``now`` when
time matters and returns the list of :mod:`~evqueue.engine.actions` the asynchronous layer must
perform, in order. The tree uses evQueue 3.3's element and attribute names, so it is at once the
state, the ``instance query`` answer and the savepoint.

Life of an instance (statuses in :mod:`evqueue.engine.statuses`):

* :meth:`Instance.create` copies the definition, sets ``name``/``host``/``user``/``comment``,
  writes the parameters (checked as evQueue does) and copies in the retry schedules.
* :meth:`Instance.start` runs the top-level jobs; tasks are queued with ``EnqueueTask``.
* The engine reports each task's start (:meth:`task_running`, :meth:`task_failed_to_start`),
  progress and end (:meth:`task_ended`); a successful job starts its sub-jobs, waiting
  conditions are evaluated again, failures may arm retries (``ArmRetry`` → :meth:`retry_now`).
* As soon as no task is queued, running or waiting for a retry, the instance is TERMINATED and
  ``InstanceEnded`` is returned (waiting conditions do not keep it alive).
* :meth:`cancel`, :meth:`kill`, :meth:`killtask`, :meth:`resume`, :meth:`debug_resume` and
  :meth:`migrate` follow semantics.md §2.3–2.6.
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from lxml import etree

from evqueue.engine.actions import (
    Action,
    AttachTask,
    CancelQueued,
    CancelRetries,
    InstanceEnded,
    KillTask,
    TaskResult,
)
from evqueue.engine.instance_state import (
    EvaluationFailed,
    InstanceSettings,
    InstanceState,
    QueueResolver,
)
from evqueue.engine.jobs import enqueue_task, job_succeeded, reevaluate_waiting, run_subjobs
from evqueue.engine.outputs import record_stop, xml_safe
from evqueue.engine.statuses import Status, Trigger
from evqueue.engine.task_retry import arm_retry
from evqueue.engine.tree import InstanceTree
from evqueue.errors import UnknownObjectName, UnknownTask
from evqueue.model.document import parse_xml
from evqueue.model.workflow import WorkflowDefinition
from evqueue.model.xpath import Scope, XPathError, evaluate_boolean, evaluate_nodes, string_value
from evqueue.times import format_time, parse_time

__all__ = ["Instance", "Parameters"]

logger = logging.getLogger(__name__)

#: Launch parameters: a mapping or (name, value) pairs (a repeated name keeps its first value).
Parameters = Mapping[str, str] | Iterable[tuple[str, str]]

_Default = TypeVar("_Default", datetime.datetime, None)

_DEBUG_RESET = ("retry_schedule_level", "retry_times", "retry_at", "progression", "error",
                "retval", "execution_time")


@functools.lru_cache(maxsize=256)
def _required_schedules(definition: str | bytes) -> tuple[str, ...]:
    # Asked at every launch of a definition the node keeps: parsed once per text, not per
    # launch (a definition that does not parse raises, and is not remembered).
    return WorkflowDefinition(parse_xml(definition)).retry_schedule_names


class Instance:
    """A running (or terminated) workflow instance. Build one with :meth:`create` or
    :meth:`from_savepoint`."""

    __slots__ = ("_st", "schedule_id", "workflow_id")

    def __init__(
        self,
        root: etree._Element,
        *,
        workflow_id: int,
        schedule_id: int | None,
        queues: QueueResolver,
        settings: InstanceSettings | None = None,
    ) -> None:
        self.workflow_id = workflow_id
        self.schedule_id = schedule_id
        self._st = InstanceState(InstanceTree(root), queues, settings or InstanceSettings())
        if root.get("id", "").isdigit():
            self._st.instance_id = int(root.get("id", "0"))

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        definition: str | bytes,
        *,
        name: str,
        parameters: Parameters = (),
        retry_schedules: Mapping[str, str] | None = None,
        workflow_id: int = 0,
        schedule_id: int | None = None,
        host: str = "",
        user: str = "",
        comment: str = "",
        queues: QueueResolver,
        settings: InstanceSettings | None = None,
    ) -> Instance:
        """A new instance of a workflow definition (semantics.md §1.4).

        Args:
            definition: the stored workflow XML (root ``<workflow>``).
            name: the workflow name, written on the root.
            parameters: launch parameters; they must match ``<parameters>`` exactly.
            retry_schedules: global retry schedules by name (``<schedule>`` XML), for the
                ``retry_schedule`` attributes without a local schedule.
            workflow_id: ``t_workflow.workflow_id``.
            schedule_id: the workflow schedule that launched it, if any.
            host: run tasks on this host; user: as this user (only recorded with a host).
            comment: the launch comment.
            queues: queue lookup for enqueueing.
            settings: task path and environment settings.

        Raises:
            InvalidWorkflowParameters: unknown parameter or wrong count.
            UnknownObjectName: a retry schedule that does not exist.
        """
        root = parse_xml(definition)
        root.set("name", xml_safe(name))
        if host:
            root.set("host", xml_safe(host))
            if user:
                root.set("user", xml_safe(user))
        if comment:
            root.set("comment", xml_safe(comment))
        _set_parameters(root, parameters)
        _import_schedules(root, retry_schedules or {})
        return cls(root, workflow_id=workflow_id, schedule_id=schedule_id, queues=queues,
                   settings=settings)

    @classmethod
    def from_savepoint(
        cls,
        xml: str | bytes,
        *,
        instance_id: int,
        workflow_id: int = 0,
        schedule_id: int | None = None,
        queues: QueueResolver,
        settings: InstanceSettings | None = None,
    ) -> Instance:
        """An instance rebuilt from its savepoint XML (then call :meth:`resume`,
        :meth:`debug_resume` or :meth:`migrate`)."""
        instance = cls(parse_xml(xml), workflow_id=workflow_id, schedule_id=schedule_id,
                       queues=queues, settings=settings)
        instance.id = instance_id
        return instance

    @staticmethod
    def required_schedules(definition: str | bytes) -> tuple[str, ...]:
        """Names of the retry schedules a definition's tasks name: the global schedules
        :meth:`create` needs (an empty name too, which never exists, as in evQueue)."""
        return _required_schedules(definition)

    # -- properties ---------------------------------------------------------------------------

    @property
    def started(self) -> bool:
        """False for the tree of a launch that has not run :meth:`start` yet."""
        return self._st.packed or self._st.root.get("status") is not None

    @property
    def id(self) -> int:
        """The instance id (0 until assigned)."""
        return self._st.instance_id

    @id.setter
    def id(self, value: int) -> None:
        self._st.instance_id = value
        self._st.root.set("id", str(value))

    @property
    def root(self) -> etree._Element:
        """The ``<workflow>`` element, to read only (of a packed instance: a copy)."""
        return self._st.view()

    @property
    def name(self) -> str:
        """The workflow name."""
        return self._attribute("name") or ""

    @property
    def status(self) -> Status:
        """EXECUTING or TERMINATED (NONE before :meth:`start`)."""
        if self._st.packed:  # only an instance that waits is packed
            return Status.EXECUTING
        return Status(self._st.root.get("status", ""))

    @property
    def start_time(self) -> datetime.datetime | None:
        """When :meth:`start` (or :meth:`debug_resume`) ran; None before."""
        return _parse_time(self._attribute("start_time"), None)

    @property
    def end_time(self) -> datetime.datetime | None:
        """When the instance was TERMINATED; None while it runs."""
        return _parse_time(self._attribute("end_time"), None)

    @property
    def errors(self) -> int:
        """Number of errors so far (``error_tasks``)."""
        return self._st.errors

    @property
    def packed(self) -> bool:
        """Whether it keeps only its XML text while its tasks wait in queues (:meth:`to_xml`)."""
        return self._st.packed

    @property
    def cancelling(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._st.cancelling

    def to_xml(self) -> str:
        """The instance XML (``instance query``, savepoints).

        An instance whose tasks all wait in queues is packed then: it keeps this text
        instead of its tree until one of them starts (a backlog of queued instances costs a
        fraction of the memory; the savepoint that writes the text is when it happens).
        """
        st = self._st
        xml = st.serialize()
        if not st.packed and self._waits_only():
            st.pack(xml)
        return xml

    def attributes(self) -> dict[str, str]:
        """The attributes of the ``<workflow>`` element (a copy)."""
        return self._st.root_attributes()

    def summary(self) -> etree._Element:
        """A copy of the root element without children (``status type=workflows``)."""
        return etree.Element("workflow", attrib=self._st.root_attributes())

    def executing_tasks(self) -> list[tuple[str, int, int]]:
        """(evqid, tid, pid) of every EXECUTING task."""
        if self._st.packed:  # every task waits in a queue
            return []
        return [(t.get("evqid", ""), int(t.get("tid", "0")), int(t.get("pid", "0")))
                for t in self._st.root.iter("task") if t.get("status") == Status.EXECUTING]

    def output_is_xml(self, evqid: str) -> bool:
        """Whether a successful run of this task produces XML (so stdout must stay inline)."""
        return self._task(evqid).get("output-method") == "XML"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self, now: datetime.datetime) -> list[Action]:
        """Start the instance: run every top-level job."""
        st = self._begin(now)
        st.tree.set_status(st.root, Trigger.START)
        st.root.set("start_time", format_time(now))
        self._run(run_subjobs, st.root)
        return self._finish(started=True)

    def task_starting(self, evqid: str, tid: int) -> None:
        """A queued task is about to be started under *tid*: recorded on the task (still
        QUEUED) so that a restarted engine can tell whether it started (:meth:`resume`)."""
        self._task(evqid).set("tid", str(tid))

    def task_running(self, evqid: str, tid: int, pid: int, now: datetime.datetime) -> list[Action]:
        """A queued task's process started under *tid* (monitor *pid*)."""
        st = self._begin(now)
        task = self._task(evqid)
        st.tree.set_status(task, Trigger.EXECUTE)
        st.count("queued", -1, task)
        task.set("pid", str(pid))
        task.set("tid", str(tid))
        task.set("execution_time", format_time(now))
        st.event("TASK_EXECUTE")
        return self._finish()

    def task_failed_to_start(
        self, evqid: str, message: str, now: datetime.datetime
    ) -> list[Action]:
        """A queued task could not be started (fork failure…): ABORTED, one error."""
        st = self._begin(now)
        task = self._task(evqid)
        task.attrib.pop("tid", None)  # stored before the start was tried; no process has it
        st.abort(task, f"Task execution : {message}")
        st.error(task)
        st.count("queued", -1, task)
        st.count("running", -1, task)
        return self._finish()

    def task_cancelled(self, evqid: str, now: datetime.datetime) -> list[Action]:
        """A queued task was taken out of its queue by a cancel."""
        return self.task_failed_to_start(evqid, "Aborted on user request", now)

    def task_ended(self, evqid: str, result: TaskResult, now: datetime.datetime) -> list[Action]:
        """A task's process exited: record it, then start what it unblocks."""
        self._begin(now)
        self._stop(self._task(evqid), result)
        return self._finish()

    def task_progress(self, evqid: str, percent: int) -> list[Action]:
        """A running task reported its progression (0–100)."""
        task = self._task(evqid)
        task.set("progression", str(max(0, min(100, percent))))
        self._st.event("TASK_PROGRESS")
        return self._st.take_actions()

    def retry_now(self, evqid: str, now: datetime.datetime) -> list[Action]:
        """A retry is due: queue the task again."""
        st = self._begin(now)
        if evqid in st.retry_pending:
            st.retry_pending.discard(evqid)
            task = self._task(evqid)
            enqueue_task(st, task)
            st.count("retrying", -1, task)
        return self._finish()

    def cancel(self, now: datetime.datetime) -> list[Action]:
        """Stop creating tasks; pending retries and queued tasks end ABORTED.

        Running tasks go on. The engine answers ``CancelQueued`` with :meth:`task_cancelled`
        for every task it takes out of a queue.
        """
        st = self._begin(now)
        st.cancelling = True
        for evqid in sorted(st.retry_pending, key=_evqid_key):
            st.retry_pending.discard(evqid)
            task = self._task(evqid)
            enqueue_task(st, task)  # aborts: "Aborted on user request"
            st.count("retrying", -1, task)
        st.emit(CancelRetries(st.instance_id))
        st.emit(CancelQueued(st.instance_id))
        return self._finish()

    def kill(self, now: datetime.datetime) -> list[Action]:
        """Cancel, then kill every running task (the web UI's "Kill instance")."""
        actions = self.cancel(now)
        actions.extend(KillTask(self.id, evqid, tid, pid)
                       for evqid, tid, pid in self.executing_tasks())
        return actions

    def killtask(self, pid: int) -> list[Action]:
        """Kill the running task whose monitor is *pid* (nothing when there is none)."""
        return [KillTask(self.id, evqid, tid, task_pid)
                for evqid, tid, task_pid in self.executing_tasks() if task_pid == pid]

    # -- restart, debug-resume, migrate -------------------------------------------------------

    def resume(
        self, now: datetime.datetime, started_monitor: Callable[[int], int | None] | None = None
    ) -> list[Action]:
        """Take over after an engine restart (semantics.md §2.6).

        Queued tasks are queued again, running tasks re-attached by tid, pending retries
        re-armed at their ``retry_at`` and errors recounted from the tree. A queued task that
        was about to start (it has a tid, :meth:`task_starting`) is asked about:
        *started_monitor(tid)* gives the pid of the monitor that started it (the task is then
        re-attached as running), or None (it never started: queued again).
        """
        return self._take_over(now, migrating=False, started_monitor=started_monitor)

    def debug_resume(self, now: datetime.datetime) -> list[Action]:
        """Run the failed and queued tasks of a TERMINATED instance again (semantics.md §2.4).

        Call it on a copy built with :meth:`from_savepoint` under the new instance id.
        """
        st = self._begin(now)
        st.tree.set_status(st.root, Trigger.START)
        for attribute in ("end_time", "errors"):
            st.root.attrib.pop(attribute, None)
        st.root.set("start_time", format_time(now))
        self._recount(errors=False)
        for task in list(st.root.iter("task")):
            status = task.get("status")
            failed = status == Status.TERMINATED and task.get("retval") != "0"
            if failed:
                for attribute in _DEBUG_RESET:
                    task.attrib.pop(attribute, None)
            if failed or status == Status.QUEUED:
                enqueue_task(st, task)
        return self._finish(started=True)

    def migrate(self, now: datetime.datetime) -> list[Action]:
        """Adopt an instance of another node (semantics.md §2.4): as :meth:`resume`, but its
        running tasks are taken as failed ("Task migrated", retval -1), which may retry them."""
        return self._take_over(now, migrating=True)

    # -- custom attributes and automatic tags -------------------------------------------------

    def custom_attributes(self) -> list[tuple[str, str]]:
        """(name, value) for each node selected by each ``<custom-attribute select>``."""
        values: list[tuple[str, str]] = []
        for attribute in self._st.root.iterfind("custom-attributes/custom-attribute"):
            name, expression = attribute.get("name", ""), attribute.get("select", "")
            try:
                nodes = evaluate_nodes(self._st.tree.xpath, expression, self._st.root,
                                       Scope(allow_get_job=True))
            except XPathError as exc:
                logger.warning("instance %s: custom attribute %s: %s", self.id, name, exc)
                continue
            values.extend((name, string_value(node)) for node in nodes)
        return values

    def automatic_tags(self) -> list[str]:
        """Names of the ``<automatic-tag>`` whose condition holds."""
        tags: list[str] = []
        for tag in self._st.root.iterfind("automatic-tags/automatic-tag"):
            name, expression = tag.get("name", ""), tag.get("condition", "")
            try:
                if evaluate_boolean(self._st.tree.xpath, expression, self._st.root,
                                    Scope(allow_get_job=True)):
                    tags.append(name)
            except XPathError as exc:
                logger.warning("instance %s: automatic tag %s: %s", self.id, name, exc)
        return tags

    # -- internals ----------------------------------------------------------------------------

    def _attribute(self, name: str) -> str | None:
        """One attribute of ``<workflow>``, read without unpacking a packed instance."""
        st = self._st
        return st.root_attributes().get(name) if st.packed else st.root.get(name)

    def _waits_only(self) -> bool:
        """Every task of this running instance waits in a queue, none about to start, and no
        condition or retry waits (those keep elements or timers of the tree)."""
        st = self._st
        return (st.queued > 0 and st.running == st.queued and not st.retrying
                and not st.waiting_nodes and not st.cancelling
                and st.root.get("status") == Status.EXECUTING
                and not any(task.get("status") == Status.QUEUED and "tid" in task.attrib
                            for task in st.root.iter("task")))

    def _begin(self, now: datetime.datetime) -> InstanceState:
        self._st.now = now
        return self._st

    def _finish(self, *, started: bool = False) -> list[Action]:
        """Emit INSTANCE_STARTED if asked, detect the end, hand the actions over."""
        st = self._st
        if started:
            st.event("INSTANCE_STARTED")
        if st.running == 0 and st.retrying == 0 and st.root.get("status") == Status.EXECUTING:
            st.tree.set_status(st.root, Trigger.END)
            st.root.set("end_time", format_time(st.now))
            st.root.set("errors", str(st.errors))
            st.emit(InstanceEnded(st.instance_id, st.errors))
        return st.take_actions()

    def _run(self, step: Callable[[InstanceState, etree._Element], None],
             node: etree._Element) -> None:
        try:
            step(self._st, node)
        except EvaluationFailed:
            pass  # recorded on the node; the instance goes on with what is running

    def _stop(self, task: etree._Element, result: TaskResult) -> None:
        st = self._st
        record_stop(st, task, result)
        st.count("running", -1, task)
        job = task.getparent().getparent()
        if job_succeeded(job):
            self._run(run_subjobs, job)
        reevaluate_waiting(st)

    def _take_over(
        self, now: datetime.datetime, *, migrating: bool,
        started_monitor: Callable[[int], int | None] | None = None,
    ) -> list[Action]:
        st = self._begin(now)
        self._recount()
        for task in list(st.root.iter("task")):
            status = task.get("status")
            if status == Status.QUEUED and "tid" in task.attrib:
                pid = None
                if started_monitor is not None and not migrating:
                    pid = started_monitor(int(task.get("tid", "0")))
                if pid is None:
                    del task.attrib["tid"]
                else:  # it started just before the crash: running, not to be run again
                    st.tree.set_status(task, Trigger.EXECUTE)
                    task.set("pid", str(pid))
                    task.set("execution_time", format_time(now))
                    status = Status.EXECUTING
            if status == Status.QUEUED:
                enqueue_task(st, task)
            elif status == Status.EXECUTING:
                st.count("running", 1, task)
                if migrating:
                    self._stop(task, TaskResult(-1, "Task migrated", None, None))
                else:
                    st.emit(AttachTask(st.instance_id, task.get("evqid", ""),
                                       self._queue_of(task), int(task.get("tid", "0")),
                                       int(task.get("pid", "0"))))
            elif status == Status.TERMINATED and task.get("retval") != "0":
                if "retry_at" in task.attrib:
                    arm_retry(st, task, max(now, _parse_time(task.get("retry_at", ""), now)))
                else:
                    st.error(task)
        return self._finish(started=True)

    def _task(self, evqid: str) -> etree._Element:
        task = self._st.tree.task(evqid)
        if task is None:
            raise UnknownTask(f"Unknown task {evqid} in instance {self.id}")
        return task

    def _queue_of(self, task: etree._Element) -> str:
        host = task.get("queue_host") if "queue_host" in task.attrib else task.get("host", "")
        return self._st.queues.resolve(task.get("queue", ""), host or "") or ""

    def _recount(self, *, errors: bool = True) -> None:
        """Reset the counters, register WAITING nodes, count past errors."""
        st = self._st
        st.tree.clear_counters()
        st.running = st.queued = st.retrying = st.errors = st.waiting = 0
        st.waiting_nodes, st.retry_pending = [], set()
        for node in st.root.iter("job", "task"):
            status = node.get("status")
            if status == Status.WAITING:
                st.waiting_nodes.append(node)
                st.count("waiting", 1, node)
            elif errors and status == Status.ABORTED:
                job = node.getparent().getparent() if node.tag == "task" else None
                if job is None or job.get("status") != Status.ABORTED:
                    st.error(node)


def _set_parameters(root: etree._Element, parameters: Parameters) -> None:
    """Write the launch parameters into ``<parameters>``, checked as the definition checks
    them (:meth:`WorkflowDefinition.check_launch_parameters`)."""
    pairs = tuple(parameters.items() if isinstance(parameters, Mapping) else parameters)
    WorkflowDefinition(root).check_launch_parameters(name for name, _ in pairs)
    values = dict(reversed(pairs))  # a repeated name keeps its first value, as in evQueue
    for node in root.iterfind("parameters/parameter"):
        for child in list(node):
            node.remove(child)
        node.text = xml_safe(values[node.get("name", "")])


def _import_schedules(root: etree._Element, global_schedules: Mapping[str, str]) -> None:
    schedules = root.find("schedules")
    for name in WorkflowDefinition(root).retry_schedule_names:
        if schedules is not None and any(s.get("name") == name for s in schedules):
            continue
        xml = global_schedules.get(name)
        if xml is None:
            raise UnknownObjectName.by_name("RetrySchedule", name)
        schedule = parse_xml(xml)
        schedule.set("name", name)
        if schedules is None:
            schedules = etree.SubElement(root, "schedules")
        schedules.append(schedule)


def _parse_time(value: str | None, default: _Default) -> datetime.datetime | _Default:
    """A time attribute as a datetime; ``default`` when it is missing or not a time."""
    try:
        return parse_time(value) if value else default
    except ValueError:
        return default


def _evqid_key(evqid: str) -> tuple[int, str]:
    return (int(evqid) if evqid.isdigit() else 0, evqid)
