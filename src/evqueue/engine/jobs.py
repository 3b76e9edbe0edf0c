"""Running jobs and tasks: conditions, loops, evqWait and queueing (semantics.md §1.5–1.6).

The algorithm, over the instance tree:

* ``run_subjobs(J)`` starts every ``J/subjobs/job`` (siblings run in parallel). When one fails
  with an expression error, that job is ABORTED, one error is counted and the failure climbs:
  the remaining siblings are not started.
* ``run_subjob(S, ctx)`` gives S its ids, evaluates its ``condition`` (false: SKIPPED; evqWait:
  WAITING), expands its ``loop`` into clones (each with the loop item as context and the
  ``iteration-condition`` as condition), then runs the tasks of each clone.
* ``run_tasks(J, ctx)`` runs each task; when every task is TERMINATED with retval 0 or SKIPPED
  (also when there is none left), the sub-jobs start.
* ``run_task(T, ctx)`` does the same as a job for the task, computes its values and queues it.
* A task's context is its job's context: the root, the parent job, or the job's loop item.
* Loop clones are appended to the end of the parent and the original is removed; clone 0 keeps
  the original's evqid, the others get new ones.
* Waiting nodes are evaluated again after every task stop; they do not keep an instance alive.
"""

from __future__ import annotations

from lxml import etree

from evqueue.engine.actions import EnqueueTask
from evqueue.engine.conditions import handle_condition, handle_loop
from evqueue.engine.instance_state import EvaluationFailed, InstanceState
from evqueue.engine.statuses import Status, Trigger
from evqueue.engine.values import TaskSetupError, build_command, replace_values
from evqueue.model.xpath import ContextItem

__all__ = [
    "enqueue_task",
    "job_succeeded",
    "reevaluate_waiting",
    "run_subjobs",
    "run_task",
    "run_tasks",
]


def run_subjobs(st: InstanceState, job: etree._Element) -> None:
    """Start the sub-jobs of *job* (a ``<job>`` or the ``<workflow>`` root).

    Raises:
        EvaluationFailed: an expression failed in one of them (already recorded).
    """
    for subjob in _children(job, "subjobs", "job"):
        try:
            run_subjob(st, subjob, job)
        except EvaluationFailed:
            if subjob.getparent() is not None:
                st.tree.set_status(subjob, Trigger.ABORT)
                st.error(subjob)
            else:  # a loop replaced it by clones: the error belongs to the parent
                st.error(job)
            raise


def run_subjob(st: InstanceState, subjob: etree._Element, context: ContextItem) -> None:
    """Run one job (and its loop clones) in *context*."""
    subjob.set("context-id", st.tree.evqid(context))
    st.tree.evqid(subjob)
    if not handle_condition(st, subjob, context):
        return
    for index, (clone, item) in enumerate(handle_loop(st, subjob, context)):
        clone.set("context-id", st.tree.evqid(item))
        if index:
            st.tree.renew_evqid(clone)
        if handle_condition(st, clone, item):
            run_tasks(st, clone, item)


def run_tasks(st: InstanceState, job: etree._Element, context: ContextItem) -> None:
    """Run the tasks of *job*, then its sub-jobs if nothing is left to wait for."""
    for task in _children(job, "tasks", "task"):
        run_task(st, task, context)
    if job_succeeded(job):
        run_subjobs(st, job)


def run_task(st: InstanceState, task: etree._Element, context: ContextItem) -> None:
    """Evaluate a task's condition and loop, compute its values and queue it."""
    if task.get("status") == Status.TERMINATED:
        return  # already done (resume)
    task.set("context-id", st.tree.evqid(context))
    st.tree.evqid(task)
    if not handle_condition(st, task, context):
        return
    for index, (clone, item) in enumerate(handle_loop(st, task, context)):
        clone.set("context-id", st.tree.evqid(item))
        if index:
            st.tree.renew_evqid(clone)
        if not handle_condition(st, clone, item):
            continue
        replace_values(st, clone, item)
        enqueue_task(st, clone)


def job_succeeded(job: etree._Element) -> bool:
    """True when every task of *job* is TERMINATED with retval 0 or SKIPPED.

    Asked before the job's sub-jobs run, so its counter of queued and executing tasks is its
    own tasks': while it is not 0 the answer is no, without looking at each task (a job of
    a thousand tasks is asked at each of their ends).
    """
    if job.get("running_tasks", "0") != "0":
        return False
    for task in _children(job, "tasks", "task"):
        status = task.get("status")
        if status == Status.SKIPPED:
            continue
        if status != Status.TERMINATED or task.get("retval") != "0":
            return False
    return True


def enqueue_task(st: InstanceState, task: etree._Element) -> None:
    """Put a task in its queue (or abort it: cancelling, unknown queue, unusable settings)."""
    if st.cancelling:
        st.abort(task, "Aborted on user request")
        st.error(task)
        return
    queue_host = task.get("queue_host") if "queue_host" in task.attrib else task.get("host", "")
    queue = st.queues.resolve(task.get("queue", ""), queue_host or "")
    if queue is None:
        st.abort(task, "Unknown queue name")
        st.error(task)
        return
    try:
        command = build_command(st, task)
    except TaskSetupError as exc:
        st.abort(task, f"Task execution : {exc}")
        st.error(task)
        return
    st.tree.set_status(task, Trigger.ENQUEUE)
    st.count("running", 1, task)
    st.count("queued", 1, task)
    st.emit(EnqueueTask(st.instance_id, task.get("evqid", ""), queue, command))
    st.event("TASK_ENQUEUE")


def reevaluate_waiting(st: InstanceState) -> None:
    """Evaluate every waiting condition again; nodes wait again or start."""
    waiting, st.waiting_nodes = st.waiting_nodes, []
    for node in waiting:
        if node.getparent() is None or node.get("status") != Status.WAITING:
            continue  # removed or handled meanwhile
        st.tree.set_status(node, Trigger.REEVALUATE)
        node.attrib.pop("details", None)
        st.count("waiting", -1, node)
        context = st.tree.find(node.get("context-id", ""))
        if context is None:
            continue
        try:
            if node.tag == "task":
                run_task(st, node, context)
            else:
                run_subjob(st, node, context)
        except EvaluationFailed:
            # evQueue lets this escape the task stop; here the node's job is aborted.
            job = node if node.tag == "job" else node.getparent().getparent()
            if job.tag == "job" and job.getparent() is not None:
                st.tree.set_status(job, Trigger.ABORT)
            st.error(job)


def _children(parent: etree._Element, group: str, tag: str) -> list[etree._Element]:
    """Snapshot of ``parent/group/tag``."""
    return [child for g in parent.iterchildren(group) for child in g.iterchildren(tag)]
