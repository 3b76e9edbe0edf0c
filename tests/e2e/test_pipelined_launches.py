"""Pipelined asynchronous launches on one connection (api/pipelining.py): they wait for the
store together, yet every reply comes in order, ids follow the order of the commands, a failed
launch answers in its place, and a command after them sees them all done."""

from __future__ import annotations

import base64

import pytest
from lxml import etree

from tests.e2e.apiwire import Wire
from tests.e2e.nodes import Node

WORKFLOW = ("<workflow><subjobs><job name='j'><tasks><task name='t' path='/bin/true' "
            "queue='q'/></tasks></job></subjobs></workflow>")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("pipelined")).start()
    with Wire(node, "unix") as wire:
        wire.login()
        content = base64.b64encode(WORKFLOW.encode()).decode()
        created = {}
        for request in (
                "<queue action='create' name='q' concurrency='4' scheduler='fifo' dynamic='no'/>",
                f"<workflow action='create' name='w' content='{content}'/>",
                "<user action='create' name='bob' password='pw' profile='USER'/>"):
            wire.send(request + "\n")
            reply = etree.fromstring(wire.message())
            assert reply.get("status") == "OK", request
            created.update(reply.attrib)
        wire.send(f"<user action='grant' id='{created['user-id']}' "
                  f"workflow_id='{created['workflow-id']}' read='yes' exec='yes' edit='no' "
                  "kill='no'/>\n")
        assert etree.fromstring(wire.message()).get("status") == "OK"
    yield node
    node.stop()


def replies(wire: Wire, count: int) -> list[etree._Element]:
    found = []
    while len(found) < count:
        element = etree.fromstring(wire.message())
        if element.tag == "response":  # not a keep-alive ping
            found.append(element)
    return found


def launched(wire: Wire, requests: list[str]) -> list[etree._Element]:
    wire.send("".join(request + "\n" for request in requests))
    return replies(wire, len(requests))


def test_a_burst_of_launches_gets_increasing_ids_in_order(node):
    with Wire(node, "unix") as wire:
        wire.login()
        answers = launched(wire, ["<instance action='launch' name='w'/>"] * 200)
    assert all(a.get("status") == "OK" for a in answers)
    ids = [int(a.get("workflow-instance-id")) for a in answers]
    assert ids == sorted(ids) and len(set(ids)) == 200


def test_a_failed_launch_answers_in_its_place_and_the_others_run(node):
    requests = ["<instance action='launch' name='w'/>"] * 3
    requests[1] = "<instance action='launch' name='nosuchworkflow'/>"
    with Wire(node, "unix") as wire:
        wire.login()
        answers = launched(wire, requests * 5)
    for index, answer in enumerate(answers):
        if index % 3 == 1:
            assert (answer.get("status"), answer.get("error-code")) == ("KO", "UKNOWN_OBJECT")
        else:
            assert answer.get("status") == "OK"
    ids = [int(a.get("workflow-instance-id")) for a in answers if a.get("status") == "OK"]
    assert ids == sorted(ids) and len(ids) == 10


def test_a_command_after_the_launches_sees_every_one_of_them(node):
    with Wire(node, "unix") as wire:
        wire.login()
        wire.send("<instance action='launch' name='w'/>\n" * 50
                  + "<instances action='list' limit='1000' filter_workflow='w'/>\n")
        answers = replies(wire, 51)
    launched_now = {a.get("workflow-instance-id") for a in answers[:50]}
    listed = {w.get("id") for w in answers[50]}
    assert len(launched_now) == 50 and launched_now <= listed


def test_a_user_s_launches_are_checked_and_ordered_too(node):
    requests = ["<instance action='launch' name='w'/>"] * 20
    with Wire(node, "unix") as wire:
        wire.login("bob", "pw")
        answers = launched(wire, requests)
    ids = [int(a.get("workflow-instance-id")) for a in answers]
    assert ids == sorted(ids) and len(set(ids)) == 20


def test_a_launch_answered_alone_has_started_when_the_next_command_asks(node):
    """A lone asynchronous launch is answered before its task is handed to the forker; the
    command right after it finds the instance started (or already ended), never unstarted."""
    with Wire(node, "unix") as wire:
        wire.login()
        for _ in range(20):
            wire.send("<instance action='launch' name='w'/>\n")
            (answer,) = replies(wire, 1)
            wire.send(f"<instance action='query' id='{answer.get('workflow-instance-id')}'/>\n")
            (queried,) = replies(wire, 1)
            workflow = queried.find("workflow")
            assert workflow is not None
            assert workflow.get("status") in ("EXECUTING", "TERMINATED")
            assert workflow.find(".//task").get("status") in (
                "QUEUED", "EXECUTING", "TERMINATED")
