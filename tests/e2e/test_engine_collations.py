"""String functions on a node started with ``LANG=C`` and no LC_* variable (``core.locale``
C.UTF-8): saving and running workflows that compare strings never blocks the node.

Strings compare by Unicode code point whatever the locale; an explicit collation whose locale is
missing is an error of that expression only, and the node goes on answering.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from tests.e2e.enginekit import EngineNode, started

#: A locale collation no machine has.
MISSING = "http://www.w3.org/2013/collation/UCA?lang=xx"

#: Constant subexpressions come first: saving evaluates them (with their collation) already.
COLLATING = """<workflow>
  <parameters><parameter name="mode"/></parameters>
  <subjobs>
    <job name="list"
         condition="max(('a', 'B')) = 'a' and starts-with(evqGetWorkflowParameter('mode'), 'ru')">
      <tasks><task name="list" path="list.sh" queue="default" output-method="XML"/></tasks>
      <subjobs>
        <job name="each" loop="evqGetOutput('list')/items/item[starts-with(@name, 'a')]"
             iteration-condition="not(ends-with(@name, 'x'))">
          <tasks>
            <task name="echo" path="echo_args.sh" queue="default" parameters-mode="CMDLINE"
                  condition="compare(@name, 'avocado') &lt; 0">
              <input name="upper"><value select="upper-case(@name)"/></input>
              <input name="before"><value select="substring-before(@name, 'p')"/></input>
              <input name="max"><value select="max((string(@name), 'B'))"/></input>
              <input name="has"><value
                select="if (contains(@name, 'pl')) then 'yes' else 'no'"/></input>
            </task>
          </tasks>
        </job>
      </subjobs>
    </job>
    <job name="skipped" condition="contains(evqGetWorkflowParameter('mode'), 'skip')">
      <tasks><task name="never" path="echo_args.sh" queue="default"/></tasks>
    </job>
  </subjobs>
</workflow>"""

#: An explicit collation that cannot be used, evaluated only at run time (it needs @name).
MISSING_AT_RUN_TIME = f"""<workflow><subjobs>
  <job name="j"><tasks>
    <task name="t" path="echo_args.sh" queue="default" parameters-mode="CMDLINE">
      <input name="cmp"><value select="compare(string(@name), 'b', '{MISSING}')"/></input>
    </task></tasks></job>
</subjobs></workflow>"""


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node whose environment has ``LANG=C`` and no other locale variable."""
    with pytest.MonkeyPatch.context() as env:
        for key in list(os.environ):
            if key.startswith("LC_") or key == "LANGUAGE":
                env.delenv(key)
        env.setenv("LANG", "C")
        node = started(EngineNode(tmp_path_factory.mktemp("collations")))
    try:
        node.task("list.sh", "echo '<items><item name=\"apple\"/><item name=\"Banana\"/>"
                  "<item name=\"avocado\"/><item name=\"ax\"/></items>'")
        node.task("echo_args.sh", 'echo "$*"')
        yield node
    finally:
        node.close()


def ping(node: EngineNode) -> str:
    """The node's answer to ``<ping/>`` on a new connection that gives up after 15 s."""
    with Client(f"unix://{node.socket_path}", "admin", "admin", timeout=15) as api:
        return api.exec("<ping/>").tag


def environment(pid: int) -> dict[str, str]:
    """The environment a process was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if item)


def test_the_node_runs_with_lang_c_and_no_lc_variable(node):
    env = environment(node.pid())
    assert env.get("LANG") == "C"
    assert not [key for key in env if key.startswith("LC_") or key == "LANGUAGE"]


def test_saving_collating_expressions_twice_succeeds_and_the_node_answers(node):
    first = node.workflow("collating", COLLATING)
    assert node.workflow("collating", COLLATING) == first
    for _ in range(2):
        answer = node.exec("<xpath action='parse' expression=\"contains('abc', 'b')\"/>")
        assert answer.get("parse-error") is None
    assert ping(node) == "response"


def test_a_missing_collation_locale_is_refused_at_save_and_parse(node):
    for _ in range(2):
        with pytest.raises(ApiError, match="Unsupported collation"):
            node.workflow("missing", MISSING_AT_RUN_TIME.replace("string(@name)", "'a'"))
        answer = node.exec(f"<xpath action='parse' expression=\"compare('a', 'b', '{MISSING}')\"/>")
        assert "Unsupported collation" in answer.get("parse-error")
    assert ping(node) == "response"


def test_workflow_with_collations_in_conditions_loop_and_inputs_runs(node):
    node.workflow("collating", COLLATING)
    for _ in range(2):
        instance = node.run_workflow("collating", {"mode": "run"})
        assert (instance.get("status"), instance.get("errors")) == ("TERMINATED", "0")
        (skipped,) = instance.iterfind("subjobs/job[@name='skipped']")
        assert skipped.get("status") == "SKIPPED"
        clones = [j for j in instance.iter("job") if j.get("name") == "each"]
        assert len(clones) == 3  # apple, avocado, ax: not Banana (case matters)
        ax = clones[2]
        assert (ax.get("status"), ax.get("details")) == ("SKIPPED", "Condition evaluates to false")
        (apple_task,) = clones[0].iter("task")
        (avocado_task,) = clones[1].iter("task")
        assert avocado_task.get("status") == "SKIPPED"
        assert (apple_task.get("status"), apple_task.get("retval")) == ("TERMINATED", "0")
        inputs = [(i.get("name"), i.text) for i in apple_task.iter("input")]
        # max() by code point: 'apple' > 'B' (a locale collation would give 'B')
        assert inputs == [("upper", "APPLE"), ("before", "a"), ("max", "apple"),
                          ("has", "yes")]
        assert apple_task.find("output").text == "APPLE a apple yes\n"
    assert ping(node) == "response"


def test_a_missing_collation_locale_at_run_time_fails_that_input_only(node):
    node.workflow("missing", MISSING_AT_RUN_TIME)
    for _ in range(2):
        instance = node.run_workflow("missing")
        assert (instance.get("status"), instance.get("errors")) == ("TERMINATED", "1")
        (value,) = instance.iter("input")
        assert value.get("status") == "ABORTED"
        assert "Unsupported collation" in value.get("error")
    assert node.run_workflow("collating", {"mode": "run"}).get("errors") == "0"
    assert ping(node) == "response"


def test_the_node_stops_on_sigterm(node):
    assert ping(node) == "response"
    assert node.stop(signal.SIGTERM, timeout=20) == 0
