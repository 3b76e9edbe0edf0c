"""docs/workflows.md, run: every example it quotes is a file under ``examples/``, its set-up
commands run as written, and each workflow gives on a real node the outcome the doc states.

The node runs its tasks from ``examples/tasks`` (``processmanager.tasks.directory``), as the doc
tells the reader to configure theirs. Only ``remote.xml`` needs a stand-in: ssh is replaced by a
script that records its arguments and runs the remote command locally.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from lxml import etree

from tests.e2e.enginekit import EngineNode, started

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DOC = ROOT / "docs" / "workflows.md"

#: A quoted file: a line naming it, a blank line, then a fenced block holding the file's text.
QUOTED = re.compile(r"^`(examples/[^`]+)`:\n\n```[\w-]*\n(.*?)^```\n", re.M | re.S)
#: The doc's set-up block (queues, retry schedule, every example workflow created).
SETUP = re.compile(r"^```sh\n(evqueue-api queue create parallel.*?)^```\n", re.M | re.S)
#: The doc's launch-and-query block.
LAUNCH = re.compile(r"^```sh\n(evqueue-api --xml instance launch .*?)^```\n", re.M | re.S)

FAKE_SSH = """#!/bin/sh
# Stand-in for ssh: records its arguments, then runs the remote command here with sh -c.
printf '%s\\n' "$@" > "$(dirname "$0")/ssh-args"
while [ $# -gt 1 ]; do shift; done
exec /bin/sh -c "$1"
"""


def doc_text() -> str:
    return DOC.read_text()


def quoted() -> dict[str, str]:
    """Quoted path → the quoted text."""
    return {path: text for path, text in QUOTED.findall(doc_text())}


def example_workflows() -> list[str]:
    return sorted(p.name for p in (EXAMPLES / "workflows").glob("*.xml"))


# -- the doc and the files agree ------------------------------------------------------------------


def test_every_quoted_example_is_a_file_with_that_text():
    files = quoted()
    assert files, "docs/workflows.md quotes no example"
    for path, text in files.items():
        assert (ROOT / path).is_file(), f"docs/workflows.md quotes {path}, which does not exist"
        assert (ROOT / path).read_text() == text, f"the doc's copy of {path} differs from the file"


def test_every_example_workflow_is_quoted_in_the_doc_and_checked_here():
    names = example_workflows()
    assert names
    missing = [n for n in names if f"examples/workflows/{n}" not in quoted()]
    assert not missing, f"docs/workflows.md does not quote {missing}"
    assert set(names) == set(OUTCOMES), "every example needs its outcome checked in this file"


def test_every_task_an_example_names_is_an_executable_in_examples_tasks():
    for name in example_workflows():
        root = etree.parse(str(EXAMPLES / "workflows" / name)).getroot()
        for task in root.iter("task"):
            if task.get("type") == "SCRIPT":
                continue
            script = EXAMPLES / "tasks" / task.get("path").split()[0]
            assert os.access(script, os.X_OK), f"{name}: {script} is not an executable"


# -- a node set up as the doc says -------------------------------------------------------------


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    directory = tmp_path_factory.mktemp("docworkflows")
    ssh = directory / "ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(0o755)
    node = started(EngineNode(directory / "node", settings={
        "processmanager.tasks.directory": str(EXAMPLES / "tasks"),
        "processmanager.monitor.ssh_path": str(ssh)}))
    try:
        (setup,) = SETUP.findall(doc_text())
        shell(node, setup)
        yield node
    finally:
        node.close()


def shell(node: EngineNode, script: str) -> str:
    """Run ``script`` with bash from the top of the tree, evqueue-api set for ``node``."""
    env = {**os.environ, "EVQUEUE_API_CONNECT": f"unix://{node.socket_path}",
           "EVQUEUE_API_USER": "admin", "EVQUEUE_API_PASSWORD": "admin",
           "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True, timeout=120).stdout


def test_the_doc_launch_and_query_commands_work(node):
    (block,) = LAUNCH.findall(doc_text())
    launch, query = block.splitlines()
    answer = etree.fromstring(shell(node, launch).strip())
    instance_id = answer.get("workflow-instance-id")
    assert instance_id
    printed = shell(node, query.replace("ID", instance_id))
    assert "Dear Ada," in printed and "[two words]" in printed


def run(node: EngineNode, workflow: str, **parameters: str) -> etree._Element:
    instance = node.run_workflow(workflow, parameters, timeout=60)
    assert instance.get("status") == "TERMINATED"
    return instance


def task(instance: etree._Element, name: str) -> etree._Element:
    (element,) = instance.xpath(f"//task[@name='{name}']")
    return element


def tasks(instance: etree._Element, name: str) -> list[etree._Element]:
    return instance.xpath(f"//task[@name='{name}']")


def job(instance: etree._Element, name: str) -> etree._Element:
    (element,) = instance.xpath(f"//job[@name='{name}']")
    return element


def output(element: etree._Element) -> str:
    """Text of the task's last output."""
    return element.findall("output")[-1].text or ""


def lines(element: etree._Element) -> list[str]:
    return output(element).splitlines()


def times(element: etree._Element) -> tuple[datetime, datetime]:
    out = element.findall("output")[-1]
    return (datetime.fromisoformat(out.get("execution_time")),
            datetime.fromisoformat(out.get("exit_time")))


def overlap(a: etree._Element, b: etree._Element) -> bool:
    """Whether two tasks (of 1 s or more) ran at the same time (times are to the second)."""
    (start_a, end_a), (start_b, end_b) = times(a), times(b)
    return start_a < end_b and start_b < end_a


# -- each example gives what the doc says ------------------------------------------------------


def check_hello(node):
    instance = run(node, "hello", who="team")
    assert instance.get("errors") == "0"
    assert output(task(instance, "hello")).startswith("Hello team from ")


def check_jobs(node):
    instance = run(node, "jobs")
    fetch, check, left, right = (task(instance, n) for n in ("fetch", "check", "left", "right"))
    assert overlap(fetch, check), "tasks of one job run together"
    assert overlap(left, right), "sibling jobs run together"
    assert times(task(instance, "fail"))[0] < times(fetch)[1], "top-level jobs start together"
    for child in (left, right):
        assert times(child)[0] >= max(times(fetch)[1], times(check)[1]), "after the parent job"
    assert task(instance, "fail").get("retval") == "3"
    never = job(instance, "never")
    assert never.get("status") is None and task(instance, "never").get("status") is None
    assert instance.get("errors") == "1"


def check_inputs(node):
    instance = run(node, "inputs", name="Ada", count="3")
    assert instance.get("errors") == "0"
    assert lines(task(instance, "cmdline")) == ["[--static]", "[two words]", "[Ada]", "[count=3]"]
    assert lines(task(instance, "env")) == ["NAME=Ada", "COUNT=3", "EVQUEUE_ENV=true"]
    assert output(task(instance, "text_stdin")) == "Dear Ada,"
    received = etree.fromstring(output(task(instance, "xml_stdin")))
    assert received.tag == "stdin" and received.get("mode") == "xml"
    assert [p.text for p in received.iter("parameter")] == ["Ada", "3"]


def check_outputs(node):
    instance = run(node, "outputs")
    listing = task(instance, "list_files").find("output")
    assert listing.get("method") == "xml"
    assert [f.get("name") for f in listing.iter("file")] == ["a.log", "empty.log", "b.log"]
    assert lines(task(instance, "use")) == ["[3]", "[a.log]", "[[three files]", "]"]
    not_xml = task(instance, "not_xml")
    assert (not_xml.get("status"), not_xml.get("error")) == ("ABORTED", "Invalid XML returned")
    assert output(not_xml) == "[plain]\n[text]\n"
    assert instance.get("errors") == "1"


def check_functions(node):
    instance = run(node, "functions", label="nightly")
    assert instance.get("errors") == "0"
    items = tasks(instance, "item")
    assert [lines(t) for t in items] == [
        ["[nightly]", f"[{f}]", f"[{f}]", "[alpha]", "[inner]", "[outer]"]
        for f in ("a.log", "empty.log", "b.log")]
    assert [lines(t) for t in tasks(instance, "deep")] == [
        ["[outer]", "[[alpha]", "]", f"[{f}]"] for f in ("a.log", "empty.log", "b.log")]


def check_conditions(node):
    quick = run(node, "conditions", mode="quick")
    assert job(quick, "full_backup").get("status") == "SKIPPED"
    assert task(quick, "verbose").get("status") == "SKIPPED"
    assert lines(task(quick, "run")) == ["[run]", "[--quick]", "[--mode=quick]"]
    full = run(node, "conditions", mode="full")
    assert lines(task(full, "full")) == ["[full]"]
    assert lines(task(full, "verbose")) == ["[verbose]"]
    assert lines(task(full, "run")) == ["[run]", "[--mode=full]"]
    assert quick.get("errors") == full.get("errors") == "0"


def check_loops(node):
    instance = run(node, "loops")
    compress = instance.xpath("//job[@name='compress']")
    assert [j.get("status") for j in compress] == [None, "SKIPPED", None]
    assert tasks(instance, "gzip")[1].get("status") is None, "a skipped copy runs nothing"
    assert [lines(t) for t in tasks(instance, "gzip") if t.get("status")] == [["[gzip]", "[a.log]"],
                                                          ["[gzip]", "[b.log]"]]
    assert sorted(lines(t)[1] for t in tasks(instance, "sum")) == [
        "[a.log]", "[b.log]", "[empty.log]"]
    assert lines(task(instance, "tar")) == [
        "[tar]", "[--verbose]", "[a.log]", "[empty.log]", "[b.log]"]
    assert instance.get("errors") == "0"


def check_wait(node):
    instance = run(node, "wait")
    assert times(task(instance, "upload"))[0] >= times(task(instance, "compile"))[1]
    assert job(instance, "publish").get("details") == "Condition evaluates to true"
    approve = job(instance, "approve")
    assert approve.get("status") == "WAITING"
    assert task(instance, "release").get("status") is None
    assert instance.get("errors") == "0"


def check_retries(node, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("retries")
    instance = run(node, "retries", workdir=str(workdir))
    flaky = task(instance, "flaky")
    assert [o.get("retval") for o in flaky.findall("output")] == ["75", "75", "0"]
    assert (flaky.get("retval"), flaky.get("retry_times")) == ("0", "3")
    gives_up = task(instance, "gives_up")
    assert [o.get("retval") for o in gives_up.findall("output")] == ["2", "2", "2"]
    assert [o.get("retval") for o in task(instance, "other_code").findall("output")] == ["3"]
    scheduled = task(instance, "scheduled")
    assert [o.get("retval") for o in scheduled.findall("output")] == ["75", "75", "0"]
    assert scheduled.get("retry_schedule_level") == "2"
    first, second, third = (datetime.fromisoformat(o.get("execution_time"))
                            for o in scheduled.findall("output"))
    assert (third - second).total_seconds() >= 2, "the second level waits 2 s"
    assert [s.get("name") for s in instance.iterfind("schedules/schedule")] == ["quick"]
    assert instance.get("errors") == "2"


def check_script(node):
    instance = run(node, "script", team="ops")
    assert output(task(instance, "report")) == "Hello world, from a script written for ops\n"
    assert "written for ops" in task(instance, "report").find("script").text


def check_remote(node):
    instance = run(node, "remote", server="web1", account="deploy")
    deploy = task(instance, "deploy")
    assert (deploy.get("host"), deploy.get("user")) == ("web1", "deploy")
    assert lines(deploy) == ["[deploy]", "[release-1.2]"]
    ssh_args = (Path(node.directory).parent / "ssh-args").read_text().splitlines()
    assert ssh_args[0] == "deploy@web1"
    assert ssh_args[1].endswith("/examples/tasks/show_args.sh deploy release-1.2")


def check_attributes(node):
    instance = run(node, "attributes", customer="acme")
    instance_id = instance.get("id")
    for filters in ("customattribute_customer='acme'", "customattribute_invoice='INV-42'"):
        rows = node.exec(f"<instances action='list' {filters}/>")
        assert [r.get("id") for r in rows] == [instance_id], filters
        assert [t.get("label") for t in rows[0].find("tags")] == ["invoiced"]


def check_values(node):
    instance = run(node, "values", size="large")
    assert lines(task(instance, "values")) == [
        "[two words]", "[double quoted]", "[plain]",
        "[1]", "[0]", "[2]", "[3.500000]", "[3.5]", "[hel]", "[size-large]", "[[]]"]


def check_queues(node):
    instance = run(node, "queues")
    serial = tasks(instance, "serial")
    assert len(serial) == 3
    assert not any(overlap(a, b) for i, a in enumerate(serial) for b in serial[i + 1:])
    parallel = tasks(instance, "parallel")
    assert all(overlap(a, b) for i, a in enumerate(parallel) for b in parallel[i + 1:])


def check_dynamic(node):
    instance = run(node, "dynamic")
    runs = tasks(instance, "deploy")
    assert [t.get("host") for t in runs] == ["web1", "web2", "web1"]
    first, web2, second = runs
    assert not overlap(first, second), "one task at a time per host"
    assert overlap(web2, first), "hosts do not wait for each other"
    assert instance.get("errors") == "0"


#: Each example's check, by file name.
OUTCOMES = {
    "attributes.xml": check_attributes, "conditions.xml": check_conditions,
    "dynamic.xml": check_dynamic,
    "functions.xml": check_functions, "hello.xml": check_hello, "inputs.xml": check_inputs,
    "jobs.xml": check_jobs, "loops.xml": check_loops, "outputs.xml": check_outputs,
    "queues.xml": check_queues, "remote.xml": check_remote, "retries.xml": check_retries,
    "script.xml": check_script, "values.xml": check_values, "wait.xml": check_wait,
}


@pytest.mark.parametrize("name", sorted(OUTCOMES))
def test_example_gives_the_documented_outcome(node, name, tmp_path_factory):
    check = OUTCOMES[name]
    if name == "retries.xml":
        check(node, tmp_path_factory)
    else:
        check(node)


# -- what each savepoint level keeps (the doc's table) -----------------------------------------


@pytest.mark.parametrize("level", [0, 1, 3])
def test_savepoint_level_keeps_what_the_doc_says(tmp_path, level):
    node = started(EngineNode(tmp_path / "node", settings={
        "processmanager.tasks.directory": str(EXAMPLES / "tasks"),
        "workflowinstance.savepoint.level": str(level)}))
    try:
        node.workflow("attributes", (EXAMPLES / "workflows" / "attributes.xml").read_text())
        answer = node.launch("attributes", {"customer": "acme"}, mode="synchronous", timeout=30)
        instance_id = answer.get("workflow-instance-id")
        history = [r.get("id") for r in node.exec("<instances action='list'/>")]
        by_attribute = node.exec("<instances action='list' customattribute_customer='acme'/>")
        stored = node.savepoint(int(instance_id))
    finally:
        node.close()
    if level == 0:  # nothing: no history
        assert history == [] and stored is None
    elif level == 1:  # the whole instance, without custom attributes and tags
        assert history == [instance_id]
        assert stored is not None and stored.get("status") == "TERMINATED"
        assert len(by_attribute) == 0
    else:
        assert history == [instance_id] and stored.get("status") == "TERMINATED"
        assert [r.get("id") for r in by_attribute] == [instance_id]
        assert [t.get("label") for t in by_attribute[0].find("tags")] == ["invoiced"]
