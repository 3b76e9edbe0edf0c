"""Controlling running instances (semantics.md §2.3–§2.4), and bad workflows refused.

cancel, kill, killtask (of a task that ignores SIGTERM: its whole process group goes), and
debugresume of a failed instance; then invalid definitions and launches, which must leave an
instance already running untouched.
"""

from __future__ import annotations

import base64

import pytest

from evqueue.protocol import ApiError
from tests.e2e.enginekit import EngineNode, one_job, pid_alive, read_lines, started, wait_until


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("control")))
    try:
        node.queue("serial", 1)
        node.queue("wide", 10)
        node.task("ok.sh", 'echo "ok $1"')
        yield node
    finally:
        node.close()


def gated(node, name: str) -> None:
    """A task script ``<name>.sh`` that runs until gate ``name`` opens."""
    node.task(f"{name}.sh", f"""
{node.gate(name)}
echo "{name} done"
""")


def executing(node, instance_id: int, task: str):
    """Wait until ``task`` runs; return its element."""
    def running():
        return node.query(instance_id).find(f".//task[@name='{task}'][@status='EXECUTING']")
    wait_until(lambda: running() is not None, 20, f"{task} did not start")
    return running()


def test_cancel_aborts_queued_retrying_and_later_tasks_but_running_ones_finish(node):
    gated(node, "cancel_run")
    node.task("fail_once.sh", "exit 5")
    node.workflow("to_cancel", """<workflow><subjobs>
      <job name="serial_job"><tasks>
        <task name="running" path="cancel_run.sh" queue="serial"/>
        <task name="queued" path="ok.sh" queue="serial"/></tasks></job>
      <job name="parent"><tasks><task name="parent_task" path="cancel_run.sh" queue="wide"/>
        </tasks><subjobs><job name="child"><tasks>
          <task name="child_task" path="ok.sh" queue="wide"/></tasks></job></subjobs></job>
      <job name="retrying_job"><tasks><task name="retrying" path="fail_once.sh" queue="wide"
          retry_delay="60" retry_times="3"/></tasks></job>
    </subjobs></workflow>""")
    instance_id = node.start_instance("to_cancel")
    executing(node, instance_id, "running")
    executing(node, instance_id, "parent_task")
    wait_until(lambda: node.query(instance_id).get("retrying_tasks") == "1")
    node.exec(f"<instance action='cancel' id='{instance_id}'/>")
    after_cancel = node.query(instance_id)
    assert after_cancel.get("status") == "EXECUTING", "running tasks go on"
    queued = after_cancel.find(".//task[@name='queued']")
    assert (queued.get("status"), queued.get("error")) == (
        "ABORTED", "Task execution : Aborted on user request")
    retrying = after_cancel.find(".//task[@name='retrying']")
    assert (retrying.get("status"), retrying.get("error")) == (
        "ABORTED", "Aborted on user request")
    node.open_gate("cancel_run")
    node.wait(instance_id)
    final = node.query(instance_id)
    assert final.find(".//task[@name='running']").get("retval") == "0"
    assert final.find(".//task[@name='parent_task']").get("retval") == "0"
    child = final.find(".//task[@name='child_task']")
    assert (child.get("status"), child.get("error")) == ("ABORTED", "Aborted on user request")
    assert final.get("errors") == "3", "queued, retrying and the child each count once"


def test_cancel_of_an_unknown_instance_is_refused(node):
    with pytest.raises(ApiError) as error:
        node.exec("<instance action='cancel' id='999999'/>")
    assert error.value.code == "UNKNOWN_INSTANCE"


def test_kill_ends_an_instance_and_its_running_tasks(node):
    gated(node, "kill_run")
    node.workflow("to_kill", one_job(
        "<task name='a' path='kill_run.sh' queue='wide'/>",
        "<task name='b' path='kill_run.sh' queue='wide'/>"))
    instance_id = node.start_instance("to_kill")
    executing(node, instance_id, "a")
    executing(node, instance_id, "b")
    node.exec(f"<instance action='kill' id='{instance_id}'/>")
    node.wait(instance_id, 10)
    final = node.query(instance_id)
    assert [t.get("retval") for t in final.iter("task")] == ["-1", "-1"]
    assert final.get("errors") == "2"
    for task in final.iter("task"):
        assert task.find("stderr").text.endswith("received SIGTERM, killing task...\n")


def test_killtask_kills_a_task_ignoring_sigterm_and_its_whole_group(node):
    pids = node.shared / "stubborn.pids"
    node.task("stubborn.sh", f"""
trap '' TERM
sleep 30 &
echo "$$ $!" > {pids}
wait
""")
    node.workflow("stubborn", one_job("<task name='s' path='stubborn.sh' queue='wide'/>"))
    instance_id = node.start_instance("stubborn")
    task = executing(node, instance_id, "s")
    wait_until(lambda: len(read_lines(pids)) == 1)
    shell, child = map(int, read_lines(pids)[0].split())
    monitor = int(task.get("pid"))
    assert all(map(pid_alive, (monitor, shell, child)))
    with pytest.raises(ApiError) as error:
        node.exec(f"<instance action='killtask' id='999999' pid='{monitor}'/>")
    assert error.value.code == "UNKNOWN_INSTANCE"
    node.exec(f"<instance action='killtask' id='{instance_id}' pid='{monitor}'/>")
    node.wait(instance_id, 10)
    final = node.query(instance_id).find(".//task[@name='s']")
    assert (final.get("status"), final.get("retval")) == ("TERMINATED", "-1")
    wait_until(lambda: not any(map(pid_alive, (monitor, shell, child))), 5,
               "the task, its child and the monitor must all be gone")


def test_debugresume_reruns_the_failed_tasks_in_a_new_instance(node):
    flag = node.shared / "repaired"
    node.task("needs_repair.sh", f"""
echo run >> {node.shared}/repair_runs
[ -e {flag} ] && {{ echo fixed; exit 0; }}
echo broken; exit 3
""")
    node.workflow("repairable", """<workflow><subjobs><job name="j"><tasks>
        <task name="good" path="ok.sh" queue="wide"/>
        <task name="bad" path="needs_repair.sh" queue="wide"/></tasks>
        <subjobs><job name="next"><tasks><task name="after" path="ok.sh" queue="wide">
          <input>after</input></task></tasks></job></subjobs>
      </job></subjobs></workflow>""")
    failed = node.run_workflow("repairable")
    assert failed.get("errors") == "1"
    assert failed.find(".//task[@name='after']").get("status") is None
    with pytest.raises(ApiError):  # only terminated instances can be resumed
        node.exec("<instance action='debugresume' id='999999'/>")
    flag.touch()
    answer = node.exec(f"<instance action='debugresume' id='{failed.get('id')}'/>")
    new_id = int(answer.get("workflow-instance-id"))
    assert new_id != int(failed.get("id"))
    node.wait(new_id)
    resumed = node.query(new_id)
    assert (resumed.get("status"), resumed.get("errors", "0")) == ("TERMINATED", "0")
    bad = resumed.find(".//task[@name='bad']")
    assert [o.text for o in bad.findall("output")] == ["broken\n", "fixed\n"]
    assert bad.get("retval") == "0"
    assert resumed.find(".//task[@name='good']").findall("output")[0].text == "ok \n"
    assert len(resumed.find(".//task[@name='good']").findall("output")) == 1, "not rerun"
    assert resumed.find(".//task[@name='after']/output").text == "ok after\n"
    assert read_lines(node.shared / "repair_runs") == ["run", "run"]
    # the failed instance is left as it was
    assert node.query(int(failed.get("id"))).get("errors") == "1"


def b64(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


@pytest.mark.parametrize(("definition", "code"), [
    ("<workflow><subjobs><job><tasks><task path='ok.sh' queue='wide'>", "INVALID_XML"),
    (one_job("<task path='ok.sh' queue='wide' condition='count(('/>"), "INVALID_XML"),
    ("<workflow><subjobs><job name='empty'><tasks/></job></subjobs></workflow>", "INVALID_XML"),
])
def test_bad_definitions_are_refused_at_create(node, definition, code):
    with pytest.raises(ApiError) as error:
        node.exec(f"<workflow action='create' name='bad' content='{b64(definition)}'/>")
    assert error.value.code == code


def test_bad_launches_are_refused_and_a_running_instance_is_unaffected(node):
    gated(node, "bystander")
    node.workflow("bystander", one_job("<task name='b' path='bystander.sh' queue='wide'/>"))
    node.workflow("needs_param", one_job("<task path='ok.sh' queue='wide'><input>"
                                         "<value select=\"evqGetWorkflowParameter('p')\"/>"
                                         "</input></task>", parameters=["p"]))
    running = node.start_instance("bystander")
    executing(node, running, "b")
    refusals = [
        ("<instance action='launch' name='needs_param'/>", "INVALID_WORKFLOW_PARAMETERS"),
        ("<instance action='launch' name='needs_param'><parameter name='q' value='1'/>"
         "</instance>", "INVALID_WORKFLOW_PARAMETERS"),
        ("<instance action='launch' name='nosuch'/>", "UKNOWN_OBJECT"),
        ("<instance action='launch' name='needs_param' mode='later'/>", "INVALID_PARAMETER"),
        ("<workflow action='create' name='bad' content='not base64!'/>", "INVALID_PARAMETER"),
    ]
    for request, code in refusals:
        with pytest.raises(ApiError) as error:
            node.exec(request)
        assert error.value.code == code, request
    assert node.query(running).get("status") == "EXECUTING"
    node.open_gate("bystander")
    node.wait(running)
    final = node.query(running)
    assert (final.get("errors"), final.find(".//output").text) == ("0", "bystander done\n")


def test_runtime_evaluation_errors_abort_the_job_with_one_error(node):
    node.workflow("bad_runtime", """<workflow><subjobs>
      <job name="notbool" condition="count(/workflow)"><tasks>
        <task name="never" path="ok.sh" queue="wide"/></tasks></job>
      <job name="fine"><tasks><task name="fine" path="ok.sh" queue="wide"/></tasks></job>
    </subjobs></workflow>""")
    final = node.run_workflow("bad_runtime")
    job = final.find(".//job[@name='notbool']")
    assert job.get("status") == "ABORTED"
    assert job.get("error", "").startswith("Error evaluating condition : ")
    assert final.get("errors") == "1"
    # evQueue stops starting the siblings that follow a job that failed to evaluate
    assert final.find(".//task[@name='fine']").get("status") is None


def test_invalid_xml_output_and_a_missing_executable_fail_their_tasks(node):
    node.task("not_xml.sh", "echo '<unclosed>'")
    node.workflow("broken_tasks", """<workflow><subjobs><job name="j"><tasks>
        <task name="x" path="not_xml.sh" queue="wide" output-method="XML"/>
        <task name="m" path="no_such_script.sh" queue="wide"/></tasks>
        <subjobs><job name="never"><tasks><task name="n" path="ok.sh" queue="wide"/></tasks>
        </job></subjobs></job></subjobs></workflow>""")
    final = node.run_workflow("broken_tasks")
    bad_xml = final.find(".//task[@name='x']")
    assert (bad_xml.get("status"), bad_xml.get("error")) == ("ABORTED", "Invalid XML returned")
    assert bad_xml.find("output").get("method") == "text"
    missing = final.find(".//task[@name='m']")
    assert (missing.get("status"), missing.get("retval")) == ("TERMINATED", "-1")
    assert missing.find("stderr").text == (
        f"Could not execute process: '{node.tasks}/no_such_script.sh'\n")
    assert final.find(".//task[@name='n']").get("status") is None
    assert final.get("errors") == "2"


def test_control_retry_runs_pending_retries_now(node):
    runs = node.shared / "retry_now_runs"
    node.task("second_time.sh", f"""
echo x >> {runs}
[ "$(wc -l < {runs})" -ge 2 ]
""")
    node.workflow("retry_now", one_job(
        "<task name='r' path='second_time.sh' queue='wide' retry_delay='3600' retry_times='1'/>"))
    instance_id = node.start_instance("retry_now")
    wait_until(lambda: node.query(instance_id).get("retrying_tasks") == "1")
    node.exec("<control action='retry'/>")
    node.wait(instance_id, 10)
    final = node.query(instance_id)
    assert (final.get("errors"), final.find(".//task").get("retval")) == ("0", "0")
    assert len(read_lines(runs)) == 2
