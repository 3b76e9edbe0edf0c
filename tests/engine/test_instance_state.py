"""Counters and failures of the shared instance state."""

from __future__ import annotations

import pytest

from evqueue.engine import QueuePool
from evqueue.engine.instance_state import EvaluationFailed, InstanceSettings, InstanceState
from evqueue.engine.tree import InstanceTree
from evqueue.model.document import parse_xml
from evqueue.model.xpath import XPathError


def state() -> InstanceState:
    tree = InstanceTree(parse_xml('<workflow><subjobs><job><tasks><task/></tasks></job>'
                                  '</subjobs></workflow>'))
    return InstanceState(tree, QueuePool(), InstanceSettings(environ={}), instance_id=3)


def test_counters_on_instance_and_tree():
    st = state()
    task = st.root.find(".//task")
    st.count("running", 1, task)
    st.error(task)
    assert (st.running, st.errors) == (1, 1)
    assert st.root.get("running_tasks") == "1" and st.root.get("error_tasks") == "1"


def test_fail_records_and_raises():
    st = state()
    task = st.root.find(".//task")
    with pytest.raises(EvaluationFailed):
        st.fail(task, "Error computing input value", XPathError("boom"), "1 +")
    assert task.get("status") == "ABORTED"
    assert task.get("error") == ("Error computing input value : XPath expression error in "
                                 "'1 +'. XPath returned error : boom")


def test_actions_are_handed_over_once():
    st = state()
    st.event("TASK_ENQUEUE")
    assert len(st.take_actions()) == 1 and st.take_actions() == []


def test_default_settings_read_the_environment():
    assert isinstance(InstanceSettings().environ, dict)
