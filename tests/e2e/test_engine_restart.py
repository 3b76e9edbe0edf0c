"""Tasks survive their engine: kill -9 or SIGTERM it while 20 tasks of 10 instances run.

The tasks (monitored by processes of their own) go on while the engine is down; their exits wait
in the node's SysV queue. The restarted engine resumes the instances from their savepoints
(level 2: written as tasks run and end; each start is recorded first, in a file), re-attaches
the running tasks by tid and collects the waiting exits: every instance ends TERMINATED with
each task's own retval and output, and no task runs twice (each appends its name to a shared
file when it starts).
"""

from __future__ import annotations

import os
import signal

import pytest
import sysv_ipc

from evqueue.process.ipc import parse_qid
from evqueue.process.manager import LOST_EXIT
from tests.e2e.enginekit import (
    RELEASE_ALL,
    EngineNode,
    one_job,
    pid_alive,
    read_lines,
    started,
    wait_until,
)

INSTANCES = 10


def side(name: str) -> str:
    return (f"<task name='{name}' path='side.sh {name}' queue='crash'><input>"
            "<value select=\"evqGetWorkflowParameter('n')\"/></input></task>")


PAIR = (f"<workflow><parameters><parameter name='n'/></parameters><subjobs><job name='j'><tasks>"
        f"{side('a')}{side('b')}</tasks><subjobs><job name='after'><tasks>{side('c')}</tasks>"
        "</job></subjobs></job></subjobs></workflow>")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("restart")))
    try:
        node.queue("crash", 20)
        node.workflow("pair", PAIR)
        yield node
    finally:
        node.close()


def prepare(node: EngineNode, round_name: str) -> None:
    """``side.sh NAME N``: note the start, wait for gate N of the round, exit with a code of
    its own (task b of an odd instance fails, so ``c`` never runs there)."""
    runs, gates = node.shared / f"{round_name}.runs", node.shared / round_name
    gates.mkdir()
    node.task("side.sh", f"""
echo "$1-$2" >> {runs}
while [ ! -e {gates}/$2 ] && [ ! -e {node.shared}/{RELEASE_ALL} ] && [ "$1" != c ]; do
    sleep 0.05
done
echo "$1 of $2 done"
[ "$1" = b ] && exit $(( $2 % 2 * 3 ))
exit 0
""")


def all_tasks_recorded_executing(node: EngineNode, ids: list[int]) -> bool:
    for instance_id in ids:
        saved = node.savepoint(instance_id)
        if saved is None:
            return False
        tasks = saved.findall(".//task[@status='EXECUTING'][@tid]")
        if len(tasks) != 2:
            return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_instances_finish_after_the_engine_dies_mid_run(node, sig):
    round_name = sig.name.lower()
    prepare(node, round_name)
    runs, gates = node.shared / f"{round_name}.runs", node.shared / round_name
    ids = [node.start_instance("pair", {"n": str(n)}) for n in range(INSTANCES)]
    wait_until(lambda: len(read_lines(runs)) == 2 * INSTANCES, 30, "20 tasks must start")
    wait_until(lambda: all_tasks_recorded_executing(node, ids), 10,
               "level 2 records each running task's tid")
    monitors = [int(t.get("pid")) for i in ids
                for t in node.savepoint(i).iterfind(".//task[@status='EXECUTING']")]
    node.stop(sig)
    assert all(map(pid_alive, monitors)), "tasks outlive their engine"
    # half of the tasks end while the engine is down, the others after it is back
    for n in range(INSTANCES // 2):
        (gates / str(n)).touch()
    first_half = monitors[: INSTANCES]
    wait_until(lambda: not any(map(pid_alive, first_half)), 20)
    node.start()
    for n in range(INSTANCES // 2, INSTANCES - 1):
        (gates / str(n)).touch()
    victim = ids[-1]  # its re-attached tasks are killed through the API
    node.exec(f"<instance action='kill' id='{victim}'/>")
    for n, instance_id in enumerate(ids):
        node.wait(instance_id)
        final = node.query(instance_id)
        assert final.get("status") == "TERMINATED"
        tasks = {t.get("name"): t for t in final.iter("task")}
        for name in ("a", "b"):
            assert "tid" not in tasks[name].attrib and "pid" not in tasks[name].attrib
            (output,) = tasks[name].findall("output")
            if instance_id == victim:
                assert output.get("retval") == "-1"
                continue
            assert output.text == f"{name} of {n} done\n"
        if instance_id == victim:
            assert final.get("errors") == "2" and tasks["c"].get("status") is None
            continue
        assert tasks["a"].get("retval") == "0"
        assert tasks["b"].get("retval") == str(n % 2 * 3)
        if n % 2:
            assert tasks["c"].get("status") is None and final.get("errors") == "1"
        else:
            assert tasks["c"].get("retval") == "0" and final.get("errors", "0") == "0"
    started = read_lines(runs)
    expected = [f"{name}-{n}" for n in range(INSTANCES) for name in ("a", "b")]
    expected += [f"c-{n}" for n in range(0, INSTANCES - 1, 2)]
    assert sorted(started) == sorted(expected), "each task ran exactly once"
    assert "exit of unknown task id" not in node.output()
    history = node.exec("<instances action='list' limit='100' filter_workflow='pair'/>")
    statuses = {int(w.get("id")): w.get("status") for w in history}
    assert all(statuses.get(i) == "TERMINATED" for i in ids), "every instance in the history"
    (queue,) = node.exec("<statistics action='query' type='queue'/>").xpath(
        "statistics/queue[@name='crash']")
    assert (queue.get("running_tasks"), queue.get("size")) == ("0", "0")


def test_a_task_whose_monitor_died_while_the_engine_was_down_ends_with_minus_one(node):
    """Its exit can never come: once the queue is drained the restarted engine ends it."""
    node.task("lonely.sh", f"""
echo $$ > {node.shared}/lonely.pid
echo before the crash
{node.gate("lonely")}
""")
    node.workflow("lonely", one_job("<task name='a' path='lonely.sh' queue='crash'/>",
                                    "<task name='b' path='lonely.sh' queue='crash'/>"))
    instance_id = node.start_instance("lonely")
    wait_until(lambda: all_tasks_recorded_executing(node, [instance_id]), 20)
    tasks = node.savepoint(instance_id).findall(".//task[@status='EXECUTING']")
    node.stop(signal.SIGKILL)
    for task in tasks:  # the monitors die; the tasks themselves go on, unobserved
        os.kill(int(task.get("pid")), signal.SIGKILL)
    wait_until(lambda: not any(pid_alive(int(t.get("pid"))) for t in tasks), 10)
    node.start()
    node.wait(instance_id)
    final = node.query(instance_id)
    assert final.get("errors") == "2"
    for task in final.iter("task"):
        assert task.get("retval") == "-1"
        assert task.find("output").text == "before the crash\n"
        assert task.find("stderr").text.endswith(LOST_EXIT + "\n")
    assert "its exit was not received" in node.output()
    node.open_gate("lonely")


def test_an_exit_taken_off_the_queue_before_the_crash_keeps_its_result(node):
    """The previous engine read the exit message, then died before storing the result: the
    next one rebuilds it from the monitor's status file and the output files, which stay
    until the result is stored."""
    node.task("taken.sh", f"""
echo "kept output"
{node.gate("taken")}
exit 3
""")
    node.workflow("taken", one_job("<task name='a' path='taken.sh' queue='crash'/>"))
    instance_id = node.start_instance("taken")

    def recorded_executing() -> bool:
        saved = node.savepoint(instance_id)
        return saved is not None and saved.find(".//task[@status='EXECUTING'][@pid]") is not None

    wait_until(recorded_executing, 20)
    node.stop(signal.SIGKILL)
    node.open_gate("taken")
    queue = sysv_ipc.MessageQueue(parse_qid(str(node.directory)))
    queue.receive(type=1)  # the exit message, taken as the killed engine's gatherer would
    node.start()
    node.wait(instance_id)
    task = node.query(instance_id).find(".//task")
    assert (task.get("retval"), task.find("output").text) == ("3", "kept output\n")
    assert LOST_EXIT not in (task.findtext("stderr") or "")
    assert not list((node.directory).rglob("*-*.status")), "released once stored"


@pytest.mark.parametrize("shape", ["alone", "second"])
def test_a_task_that_kills_its_engine_as_it_starts_runs_once(node, shape):
    """Nothing is stored as a task starts, only its start record: the task kills the engine
    (kill -9) at once, before any savepoint can say it started. The restarted engine finds
    the record and the monitor's status file, re-attaches the task instead of starting it
    again, and collects its exit. ``second``: the task is in a sub-job, started when another
    task ended (the savepoint stored may then hold that task running, or ended)."""
    runs = node.shared / f"killer-{shape}.runs"
    node.task(f"killer-{shape}.sh", f"""
echo "$1" >> {runs}
[ "$1" = first ] && exit 0
kill -9 $(cat {node.pidfile})
{node.gate(f"killer-{shape}")}
echo "survived"
""")
    killer = f"<task name='k' path='killer-{shape}.sh killer' queue='crash'/>"
    xml = one_job(killer)
    if shape == "second":
        xml = (f"<workflow><subjobs><job name='j'><tasks><task name='f' "
               f"path='killer-{shape}.sh first' queue='crash'/></tasks><subjobs>"
               f"<job name='then'><tasks>{killer}</tasks></job></subjobs></job></subjobs>"
               "</workflow>")
    node.workflow(f"killer-{shape}", xml)
    instance_id = node.start_instance(f"killer-{shape}")
    wait_until(lambda: node.process.poll() is not None, 20, "the task kills the engine")
    node.stop()
    assert read_lines(runs)[-1] == "killer"
    node.start()
    node.open_gate(f"killer-{shape}")
    node.wait(instance_id)
    task = node.query(instance_id).find(".//task[@name='k']")
    assert (task.get("retval"), task.findtext("output")) == ("0", "survived\n")
    expected = ["first", "killer"] if shape == "second" else ["killer"]
    assert read_lines(runs) == expected, "the task ran once"
