"""Conditions and loops on single nodes (semantics.md §1.6)."""

from __future__ import annotations

import pytest

from evqueue.engine import QueuePool
from evqueue.engine.conditions import handle_condition, handle_loop
from evqueue.engine.instance_state import EvaluationFailed, InstanceSettings, InstanceState
from evqueue.engine.tree import InstanceTree
from evqueue.model.document import parse_xml
from evqueue.model.xpath import AttrRef

XML = ('<workflow><subjobs><job name="j"><tasks><task name="a"/><task name="b"/></tasks>'
       '</job></subjobs></workflow>')


def state() -> InstanceState:
    return InstanceState(InstanceTree(parse_xml(XML)), QueuePool(), InstanceSettings(environ={}))


def test_true_condition_is_removed():
    st = state()
    job = st.root.find(".//job")
    job.set("condition", "@name = 'j'")
    assert handle_condition(st, job, job) is True
    assert job.get("condition") is None and job.get("details") == "Condition evaluates to true"


def test_false_condition_skips():
    st = state()
    job = st.root.find(".//job")
    job.set("condition", "@name = 'x'")
    assert handle_condition(st, job, job) is False
    assert job.get("status") == "SKIPPED" and job.get("condition") == "@name = 'x'"


def test_wait_is_only_for_jobs_and_tasks():
    st = state()
    job = st.root.find(".//job")
    job.set("condition", "evqWait(false())")
    assert handle_condition(st, job, job) is False
    assert st.waiting_nodes == [job] and st.waiting == 1
    task = st.root.find(".//task")
    task.set("condition", "evqWait(false())")
    with pytest.raises(EvaluationFailed):
        handle_condition(st, task, task, can_wait=False)
    assert task.get("status") == "ABORTED"


def test_loop_clones_in_order_with_the_iteration_condition():
    st = state()
    task = st.root.find(".//task[@name='a']")
    task.set("loop", "../task/@name")
    task.set("iteration-condition", ". = 'b'")
    clones = handle_loop(st, task, task)
    names = [t.get("name") for t in st.root.iterfind(".//task")]
    assert names == ["b", "a", "a"]  # clones go to the end, the original is gone
    assert [item for _, item in clones] == [AttrRef(task, "name"),
                                            AttrRef(st.root.find(".//task[@name='b']"), "name")]
    assert all(c.get("condition") == ". = 'b'" and c.get("loop") is None for c, _ in clones)


def test_loop_needs_nodes():
    st = state()
    task = st.root.find(".//task")
    task.set("loop", "(1, 2)")
    with pytest.raises(EvaluationFailed):
        handle_loop(st, task, task)
    assert task.get("error").startswith("Error evaluating loop : XPath expression error")
    assert task.get("error").endswith("Evaluation result is not a node")
