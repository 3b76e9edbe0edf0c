"""Workflow definitions kept in memory by a node: a change through the API is used at once."""

from __future__ import annotations

import pytest

from tests.e2e.enginekit import EngineNode, one_job, read_lines, started


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("definitions")))
    try:
        yield node
    finally:
        node.close()


def test_an_edited_workflow_runs_its_new_definition_at_the_next_launch(node):
    log = node.shared / "versions"
    node.task("say.sh", f'echo "$1" >> {log}')
    node.queue("defs", 1)
    for version in ("one", "two", "three"):
        node.workflow("edited", one_job(
            f"<task name='t' path='say.sh' queue='defs'><input>{version}</input></task>"))
        node.run_workflow("edited")
    assert read_lines(log) == ["one", "two", "three"]


def test_control_reload_makes_a_node_read_definitions_again(node):
    node.exec("<control action='reload' module='workflows' notify='no'/>")
    node.workflow("after_reload", one_job("<task name='t' path='say.sh' queue='defs'>"
                                          "<input>four</input></task>"))
    node.run_workflow("after_reload")
    assert read_lines(node.shared / "versions")[-1] == "four"
