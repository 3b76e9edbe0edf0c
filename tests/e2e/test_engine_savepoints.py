"""Savepoint levels seen in the store of a real node (semantics.md §2.5).

Level 0 keeps no history at all; level 3 writes every change, so the running instance is
visible in ``t_workflow_instance`` step by step. (Level 2, the default, is exercised by the
restart tests: its savepoints record running tasks and survive a crash.)
"""

from __future__ import annotations

import pytest

from evqueue.protocol import ApiError
from tests.e2e.enginekit import RELEASE_ALL, EngineNode, started, wait_until

TWO_STEPS = """<workflow><subjobs><job name="first"><tasks>
  <task name="a" path="step.sh a" queue="default"/></tasks>
  <subjobs><job name="second"><tasks><task name="b" path="step.sh b" queue="default"/>
  </tasks></job></subjobs></job></subjobs></workflow>"""


def prepare(node: EngineNode) -> None:
    node.task("step.sh", f"""
while [ ! -e {node.shared}/$1.gate ] && [ ! -e {node.shared}/{RELEASE_ALL} ]; do sleep 0.05; done
echo "step $1"
""")
    node.workflow("steps", TWO_STEPS)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    nodes: list[EngineNode] = []
    try:
        for level in (0, 3):
            node = started(EngineNode(tmp_path_factory.mktemp(f"level{level}"), settings={
                "workflowinstance.savepoint.level": str(level)}))
            nodes.append(node)
            prepare(node)
        yield dict(zip((0, 3), nodes, strict=True))
    finally:
        for node in nodes:
            node.close()


def test_level_zero_keeps_no_history(nodes):
    node = nodes[0]
    instance_id = node.start_instance("steps")
    assert node.query(instance_id).get("status") == "EXECUTING", "live XML while it runs"
    assert node.db_rows("SELECT COUNT(*) FROM t_workflow_instance") == [(0,)]
    for step in ("a", "b"):
        node.open_gate(step)
    node.exec(f"<instance action='wait' id='{instance_id}' timeout='20'/>")
    assert node.db_rows("SELECT COUNT(*) FROM t_workflow_instance") == [(0,)]
    assert len(node.exec("<instances action='list'/>")) == 0
    with pytest.raises(ApiError) as error:
        node.query(instance_id)
    assert error.value.code == "UNKNOWN_INSTANCE"
    second = int(node.launch("steps", mode="synchronous", timeout=20)
                 .get("workflow-instance-id"))
    assert second == instance_id + 1, "ids come from a sequence"


def test_level_three_writes_every_change_while_running(nodes):
    node = nodes[3]
    instance_id = node.start_instance("steps")

    def stored_task(name: str):
        saved = node.savepoint(instance_id)
        return None if saved is None else saved.find(f".//task[@name='{name}']")

    wait_until(lambda: stored_task("a") is not None
               and stored_task("a").get("status") == "EXECUTING", 10)
    running = stored_task("a")
    assert running.get("tid") and running.get("pid")
    assert node.db_rows("SELECT workflow_instance_status FROM t_workflow_instance "
                        "WHERE workflow_instance_id = ?", (instance_id,)) == [("EXECUTING",)]
    node.open_gate("a")
    wait_until(lambda: stored_task("b") is not None
               and stored_task("b").get("status") == "EXECUTING", 10)
    done = stored_task("a")
    assert (done.get("status"), done.get("retval"), done.find("output").text) == (
        "TERMINATED", "0", "step a\n")
    node.open_gate("b")
    node.wait(instance_id)
    final = node.db_rows("SELECT workflow_instance_status, workflow_instance_errors, "
                         "workflow_instance_end FROM t_workflow_instance "
                         "WHERE workflow_instance_id = ?", (instance_id,))
    assert final[0][:2] == ("TERMINATED", 0) and final[0][2] is not None
    assert node.savepoint(instance_id).find(".//task[@name='b']/output").text == "step b\n"
