"""Data flowing between real tasks: outputs, conditions, loops, ancestors' outputs, evqWait.

One node serves the whole module; every test uses its own workflows and shared files.
"""

from __future__ import annotations

import base64
import gzip
import time

import pytest

from tests.e2e.enginekit import EngineNode, read_lines, started, wait_until


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("chaining"),
                              settings={"datastore.dom.maxsize": "2K"}))
    try:
        node.queue("wide", 10)
        yield node
    finally:
        node.close()


CHAIN = """<workflow>
  <parameters><parameter name="count"/></parameters>
  <subjobs><job name="first"><tasks>
    <task name="t1" path="chain_t1.sh" queue="wide" output-method="XML">
      <input><value select="evqGetWorkflowParameter('count')"/></input>
    </task></tasks>
    <subjobs><job name="second"><tasks>
      <task name="t2" path="chain_t2.sh" queue="wide" output-method="XML">
        <input name="n"><value select="evqGetOutput('t1')/result/count"/></input>
        <stdin><copy select="evqGetOutput('t1')/result"/></stdin>
      </task></tasks>
      <subjobs><job name="third"><tasks>
        <task name="t3" path="chain_t3.sh" queue="wide"
              condition="evqGetOutput('t2')/verdict/@big = 'yes'">
          <input><value select="evqGetOutput('t2')/verdict/@n"/></input>
        </task></tasks></job></subjobs>
    </job></subjobs>
  </job></subjobs>
</workflow>"""


def test_three_task_chain_passes_xml_output_and_gates_on_a_condition(node):
    node.task("chain_t1.sh", 'echo "<result><count>$1</count><unit>rows</unit></result>"')
    node.task("chain_t2.sh", f"""
cat > {node.shared}/t2_stdin_$1
if [ "$1" -gt 5 ]; then big=yes; else big=no; fi
echo "<verdict n='$1' big='$big'/>"
""")
    node.task("chain_t3.sh", f'echo "$1" >> {node.shared}/t3_runs; echo "t3 got $1"')
    node.workflow("chain", CHAIN)

    big = node.run_workflow("chain", {"count": "12"})
    assert (big.get("status"), big.get("errors")) == ("TERMINATED", "0")
    t2 = big.find(".//task[@name='t2']")
    assert t2.find("input").text == "12"
    assert t2.find("output/verdict").get("big") == "yes"
    stdin = (node.shared / "t2_stdin_12").read_text()
    assert stdin.startswith('<stdin mode="xml"><result') and "<count>12</count>" in stdin
    t3 = big.find(".//task[@name='t3']")
    assert (t3.get("status"), t3.get("retval")) == ("TERMINATED", "0")
    assert t3.get("details") == "Condition evaluates to true"
    assert t3.find("output").text == "t3 got 12\n"

    small = node.run_workflow("chain", {"count": "3"})
    assert (small.get("status"), small.get("errors")) == ("TERMINATED", "0")
    assert small.find(".//task[@name='t2']/output/verdict").get("big") == "no"
    t3 = small.find(".//task[@name='t3']")
    assert (t3.get("status"), t3.get("details")) == ("SKIPPED", "Condition evaluates to false")
    assert t3.find("output") is None
    assert read_lines(node.shared / "t3_runs") == ["12"], "t3 ran only when the condition held"


def test_job_loop_runs_one_task_per_output_item(node):
    node.task("items.sh", "echo '<items><item>alpha</item><item>beta</item>"
                          "<item>gamma</item></items>'")
    node.task("each.sh", f'echo "$1" >> {node.shared}/each_runs; echo "handled $1"')
    node.workflow("loop", """<workflow><subjobs><job name="list"><tasks>
        <task name="items" path="items.sh" queue="wide" output-method="XML"/></tasks>
        <subjobs><job name="each" loop="evqGetOutput('items')/items/item"><tasks>
          <task name="use" path="each.sh" queue="wide">
            <input><value select="evqGetCurrentJob()/evqGetContext()"/></input>
          </task></tasks></job></subjobs>
      </job></subjobs></workflow>""")
    instance = node.run_workflow("loop")
    assert instance.get("errors") == "0"
    jobs = instance.findall(".//job[@name='each']")
    assert len(jobs) == 3
    outputs = [job.find("tasks/task/output").text for job in jobs]
    assert outputs == ["handled alpha\n", "handled beta\n", "handled gamma\n"]
    assert sorted(read_lines(node.shared / "each_runs")) == ["alpha", "beta", "gamma"]
    items = instance.findall(".//task[@name='items']/output/items/item")
    assert [job.get("context-id") for job in jobs] == [item.get("evqid") for item in items]


def test_sub_sub_job_reads_its_grandparents_output(node):
    node.task("grand.sh", "echo '<v>from-grandparent</v>'")
    node.task("middle.sh", "echo middle")
    node.task("leaf.sh", 'echo "leaf saw $1"')
    node.workflow("family", """<workflow><subjobs><job name="a"><tasks>
        <task name="t" path="grand.sh" queue="wide" output-method="XML"/></tasks>
        <subjobs><job name="b"><tasks><task name="tb" path="middle.sh" queue="wide"/></tasks>
          <subjobs><job name="c"><tasks><task name="tc" path="leaf.sh" queue="wide">
            <input><value select="evqGetParentJob(1)/evqGetOutput('t')"/></input>
          </task></tasks></job></subjobs>
        </job></subjobs>
      </job></subjobs></workflow>""")
    instance = node.run_workflow("family")
    assert instance.get("errors") == "0"
    leaf = instance.find(".//task[@name='tc']")
    assert leaf.find("input").text == "from-grandparent"
    assert leaf.find("output").text == "leaf saw from-grandparent\n"


def test_evqwait_releases_a_job_when_its_condition_becomes_true(node):
    node.task("slow_first.sh", f"""
{node.gate("wait")}
date +%s.%N > {node.shared}/first_end
""")
    node.task("after.sh", f"date +%s.%N > {node.shared}/after_start")
    first_done = ("evqWait(count(/workflow/subjobs/job[@name='first']/tasks/task"
                  "[@status='TERMINATED' and @retval='0']) = 1)")
    node.workflow("waiter", f"""<workflow><subjobs>
      <job name="first"><tasks><task name="f" path="slow_first.sh" queue="wide"/></tasks></job>
      <job name="gate" condition="{first_done}">
        <tasks><task name="g" path="after.sh" queue="wide"/></tasks></job>
    </subjobs></workflow>""")
    instance_id = node.start_instance("waiter")
    waiting = node.query(instance_id)
    job = waiting.find(".//job[@name='gate']")
    assert (job.get("status"), job.get("details")) == (
        "WAITING", "Waiting for condition to become true")
    assert waiting.get("waiting_conditions") == "1"
    status = node.exec("<status action='query' type='workflows'/>")
    (summary,) = [w for w in status if w.get("id") == str(instance_id)]
    assert summary.get("status") == "EXECUTING" and len(summary) == 0, "root attributes only"
    assert int(status.get("count")) >= 1
    node.open_gate("wait")
    node.wait(instance_id)
    final = node.query(instance_id)
    assert final.get("errors") == "0"
    job = final.find(".//job[@name='gate']")
    assert job.get("status") is None and job.get("details") == "Condition evaluates to true"
    assert final.find(".//task[@name='g']").get("retval") == "0"
    first_end = float((node.shared / "first_end").read_text())
    assert float((node.shared / "after_start").read_text()) >= first_end


def test_waiting_nodes_do_not_keep_an_instance_alive(node):
    node.task("quick.sh", "exit 0")
    node.workflow("never", """<workflow><subjobs>
      <job name="a"><tasks><task name="q" path="quick.sh" queue="wide"/></tasks></job>
      <job name="b"
           condition="evqWait(count(/workflow/subjobs/job[@name='a']/tasks/task[@retval='7']) = 1)">
        <tasks><task name="n" path="quick.sh" queue="wide"/></tasks></job>
    </subjobs></workflow>""")
    instance = node.run_workflow("never")
    assert instance.get("status") == "TERMINATED"
    assert instance.find(".//job[@name='b']").get("status") == "WAITING"
    assert instance.find(".//task[@name='n']").get("status") is None


def test_synchronous_launch_returns_when_the_instance_ends(node):
    node.task("short.sh", "sleep 0.3; echo done")
    node.workflow("short", "<workflow><subjobs><job name='j'><tasks>"
                           "<task name='s' path='short.sh' queue='wide'/></tasks></job>"
                           "</subjobs></workflow>")
    answer = node.launch("short", mode="synchronous", timeout=20)
    assert answer.get("wait") is None
    final = node.query(int(answer.get("workflow-instance-id")))
    assert final.get("status") == "TERMINATED"
    assert final.find(".//output").text == "done\n"


def test_synchronous_launch_times_out_and_wait_times_out(node):
    node.task("slow.sh", node.gate("slow"))
    node.workflow("slow", "<workflow><subjobs><job name='j'><tasks>"
                          "<task name='s' path='slow.sh' queue='wide'/></tasks></job>"
                          "</subjobs></workflow>")
    started = time.monotonic()
    answer = node.launch("slow", mode="synchronous", timeout=1)
    assert answer.get("wait") == "timedout"
    assert 0.9 <= time.monotonic() - started < 5
    instance_id = int(answer.get("workflow-instance-id"))
    assert node.query(instance_id).get("status") == "EXECUTING"
    from evqueue.protocol import ApiError

    started = time.monotonic()
    with pytest.raises(ApiError) as error:
        node.exec(f"<instance action='wait' id='{instance_id}' timeout='1'/>")
    assert error.value.code == "TIMED_OUT"
    assert 0.9 <= time.monotonic() - started < 5
    node.open_gate("slow")
    node.exec(f"<instance action='wait' id='{instance_id}' timeout='20'/>")
    assert node.query(instance_id).get("status") == "TERMINATED"
    wait_until(lambda: node.query(instance_id).get("errors") == "0")


def test_a_large_output_goes_to_the_datastore(node):
    node.task("big.sh", "i=0; while [ $i -lt 100 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxx;"
                        " i=$((i+1)); done; echo small >&2")
    node.workflow("big", "<workflow><subjobs><job name='j'><tasks>"
                         "<task name='b' path='big.sh' queue='wide'/></tasks></job>"
                         "</subjobs></workflow>")
    task = node.run_workflow("big").find(".//task")
    output = task.find("output")
    assert output.text is None and output.get("datastore-id")
    assert task.find("stderr").text == "small\n"
    answer = node.exec(f"<datastore action='get' id='{output.get('datastore-id')}'/>")
    assert answer.get("gzip") == "yes"
    text = gzip.decompress(base64.b64decode(answer.text)).decode()
    assert text.splitlines()[0] == "line-0-xxxxxxxxxxxxxxxxxxxxxxxxxx" and len(text) > 2048


def test_task_loop_input_conditions_env_mode_and_working_directory(node):
    workdir = node.shared / "wd"
    workdir.mkdir()
    node.task("env_task.sh", 'echo "$ITEM|$DEFAULT_PARAMETER_NAME|$SKIPPED_ONE|$EVQUEUE_ENV|'
                             '$EVQUEUE_IPC_QID|$(pwd)"')
    node.task("argv_task.sh", 'echo "$#:$*"; echo "to stderr" >&2')
    node.workflow("inputs", f"""<workflow><parameters><parameter name="mode"/></parameters>
      <subjobs><job name="j"><tasks>
        <task name="env" path="env_task.sh" queue="wide" parameters-mode="ENV" wd="{workdir}"
              loop="/workflow/parameters/parameter"
              iteration-condition="@name = 'mode'">
          <input name="ITEM"><value select="@name"/></input>
          <input>unnamed</input>
          <input name="SKIPPED_ONE" condition="1 = 2">never</input>
        </task>
        <task name="argv" path="argv_task.sh static" queue="wide" merge-stderr="yes">
          <input loop="/workflow/parameters/parameter"><value select="."/></input>
          <input condition="evqGetWorkflowParameter('mode') = 'full'">extra</input>
        </task>
      </tasks></job></subjobs></workflow>""")
    final = node.run_workflow("inputs", {"mode": "full"})
    env = final.find(".//task[@name='env']")
    assert env.find("output").text == f"mode|unnamed||true|0|{workdir}\n"
    assert env.find("input[@name='SKIPPED_ONE']").get("status") == "SKIPPED"
    argv = final.find(".//task[@name='argv']/output").text
    # evQueue appends loop clones at the end: the looped input comes after "extra"
    assert argv == "3:static extra full\nto stderr\n"
