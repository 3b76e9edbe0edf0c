"""The instance tree: evqids, counters, statuses."""

from __future__ import annotations

import pytest

from evqueue.engine.statuses import InvalidTransition, Trigger
from evqueue.engine.tree import InstanceTree
from evqueue.model.document import parse_xml
from evqueue.model.xpath import AttrRef

XML = ('<workflow evqid="1"><subjobs><job evqid="2"><tasks><task evqid="5"/></tasks>'
       '<subjobs><job><tasks><task><stdin><x evqid="5"/></stdin></task></tasks></job></subjobs>'
       '</job></subjobs></workflow>')


def test_ids_continue_after_the_highest():
    tree = InstanceTree(parse_xml(XML))
    inner = tree.root.find("subjobs/job/subjobs/job")
    assert tree.evqid(inner) == "6"
    assert tree.evqid(inner) == "6"
    assert tree.find("6") is inner
    # a copy inside a stdin does not hide the original
    assert tree.find("5") is tree.root.find("subjobs/job/tasks/task")


def test_attribute_ids():
    tree = InstanceTree(parse_xml(XML))
    job = tree.root.find("subjobs/job")
    assert tree.evqid(AttrRef(job, "name")) == "2/@name"
    assert tree.find("2/@name") == AttrRef(job, "name")
    assert tree.find("99") is None


def test_counters_climb_to_the_root():
    tree = InstanceTree(parse_xml(XML))
    task = tree.root.find("subjobs/job/subjobs/job/tasks/task")
    tree.add_counter("running_tasks", 1, task)
    tree.add_counter("running_tasks", 1, task)
    values = [e.get("running_tasks") for e in tree.root.iter("workflow", "job")]
    assert values == ["2", "2", "2"]
    tree.clear_counters()
    assert all(e.get("running_tasks") is None for e in tree.root.iter())


def test_set_status_uses_the_table():
    tree = InstanceTree(parse_xml(XML))
    task = tree.root.find("subjobs/job/tasks/task")
    tree.set_status(task, Trigger.ENQUEUE)
    assert task.get("status") == "QUEUED"
    with pytest.raises(InvalidTransition):
        tree.set_status(task, Trigger.STOP)



def test_an_unpacked_tree_gives_no_evqid_twice():
    tree = InstanceTree(parse_xml(XML))
    inner = tree.root.find("subjobs/job/subjobs/job")
    assert tree.evqid(inner) == "6"
    inner.getparent().remove(inner)  # a loop clone that was dropped: 6 is used up
    unpacked = InstanceTree.unpack(tree.serialize(), tree.last_evqid)
    assert unpacked.serialize() == tree.serialize()
    assert unpacked.find("5") is unpacked.root.find("subjobs/job/tasks/task")
    assert unpacked.evqid(unpacked.root.find("subjobs/job/subjobs")) == "7"
