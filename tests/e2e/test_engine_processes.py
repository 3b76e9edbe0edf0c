"""The process layer of real nodes: IPC queues, tasks directories, progress, tail, unsticking.

Two nodes share one store (one SQLite file) but each has its own directory, hence its own
``core.ipc.qid`` key (libc ``ftok`` of the directory) and its own tasks directory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal

import pytest
import sysv_ipc

from evqueue.process.ipc import TaskExitMessage, parse_qid, send_message
from evqueue.protocol import ApiError
from tests.e2e.enginekit import EngineNode, one_job, pid_alive, read_lines, started, wait_until

LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
LIBC.ftok.argtypes = [ctypes.c_char_p, ctypes.c_int]
LIBC.ftok.restype = ctypes.c_int


def libc_ftok(path: str) -> int:
    key = LIBC.ftok(os.fsencode(path), 0xE7)
    assert key != -1, os.strerror(ctypes.get_errno())
    return key


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    root = tmp_path_factory.mktemp("processes")
    db_url = f"sqlite:///{root / 'shared.db'}"
    nodes: list[EngineNode] = []
    try:
        for name in ("alpha", "beta"):
            nodes.append(started(EngineNode(root / name, name=name, db_url=db_url)))
        alpha, beta = nodes
        alpha.queue("wide", 10)
        # without cluster notification, the other node learns of the queue on a reload
        beta.exec("<control action='reload' module='queuepool'/>")
        for node in nodes:
            node.task("which.sh", f'echo "{node.name} $*"')
        yield alpha, beta
    finally:
        for node in nodes:
            node.close()


@pytest.fixture
def alpha(pair):
    return pair[0]


def test_each_node_has_its_own_queue_keyed_by_libc_ftok(pair):
    keys = []
    for node in pair:
        key = libc_ftok(str(node.directory))
        assert parse_qid(str(node.directory)) == key
        sysv_ipc.MessageQueue(key)  # exists: the node created it at start-up
        stats = node.run("--ipcq-stats")
        assert stats.returncode == 0, stats.stderr
        assert "Pending messages : 0" in stats.stdout
        keys.append(key)
    assert keys[0] != keys[1]


def test_an_exit_sent_to_one_queue_reaches_only_that_node(pair):
    alpha, beta = pair
    send_message(sysv_ipc.MessageQueue(libc_ftok(str(alpha.directory))),
                 TaskExitMessage(pid=os.getpid(), tid=424242, retcode=0))
    wait_until(lambda: "exit of unknown task id 424242 ignored" in alpha.output(), 10)
    assert "424242" not in beta.output()


def test_same_workflow_runs_each_nodes_own_script(pair):
    alpha, beta = pair
    alpha.workflow("which", one_job("<task name='w' path='which.sh --flag' queue='wide'/>"))
    outputs = {}
    for node in pair:
        final = node.run_workflow("which")
        task = final.find(".//task")
        assert (task.get("retval"), final.get("errors")) == ("0", "0")
        outputs[node.name] = task.find("output").text
    assert outputs == {"alpha": "alpha --flag\n", "beta": "beta --flag\n"}
    rows = alpha.db_rows("SELECT node_name FROM t_workflow_instance ORDER BY 1")
    assert {row[0] for row in rows} == {"alpha", "beta"}, "one store for both nodes"


def test_busy_nodes_side_by_side_get_only_their_own_exits(pair):
    alpha, beta = pair
    alpha.workflow("busy", one_job(*(f"<task name='t{i}' path='which.sh {i}' queue='wide'/>"
                                     for i in range(4))))
    launched = {node.name: [node.start_instance("busy") for _ in range(5)] for node in pair}
    for node in pair:
        for instance_id in launched[node.name]:
            node.wait(instance_id)
            final = node.query(instance_id)
            assert final.get("errors") == "0"
            assert sorted(t.find("output").text for t in final.iter("task")) == [
                f"{node.name} {i}\n" for i in range(4)]
    for node in pair:
        unknown = set(re.findall(r"exit of unknown task id (\d+)", node.output()))
        assert unknown <= {"424242"}, f"{node.name} received exits of tasks not its own"


def running_task(node: EngineNode, instance_id: int):
    def task():
        return node.query(instance_id).find(".//task[@status='EXECUTING']")
    wait_until(lambda: task() is not None, 20)
    return task()


def test_progress_on_fd_3_shows_while_the_task_runs(alpha):
    alpha.task("progress.sh", f"""
echo '%50' >&3
{alpha.gate("progress")}
""")
    alpha.workflow("progress", one_job("<task name='p' path='progress.sh' queue='wide'/>"))
    instance_id = alpha.start_instance("progress")
    running_task(alpha, instance_id)
    wait_until(lambda: alpha.query(instance_id).find(".//task").get("progression") == "50", 10)
    alpha.open_gate("progress")
    alpha.wait(instance_id)
    assert alpha.query(instance_id).find(".//task").get("progression") == "100"


def test_tail_returns_the_live_output_of_a_running_task(alpha):
    alpha.task("chatty.sh", f"""
echo first line
echo second line
echo 'a log line' >&3
echo 'an error' >&2
{alpha.gate("chatty")}
echo last line
""")
    alpha.workflow("chatty", one_job("<task name='c' path='chatty.sh' queue='wide'/>"))
    instance_id = alpha.start_instance("chatty")
    tid = running_task(alpha, instance_id).get("tid")

    def tail(kind: str) -> str:
        answer = alpha.exec(f"<processmanager action='tail' tid='{tid}' type='{kind}'/>")
        return answer.text or ""

    wait_until(lambda: tail("stdout") == "first line\nsecond line\n", 10)
    wait_until(lambda: tail("log") == "a log line\n", 10)
    wait_until(lambda: tail("stderr") == "an error\n", 10)
    alpha.open_gate("chatty")
    alpha.wait(instance_id)
    assert alpha.query(instance_id).find(".//output").text.endswith("last line\n")
    with pytest.raises(ApiError) as error:
        tail("stdout")
    assert error.value.code == "UNKNOWN_INSTANCE"


def test_ipc_terminate_tid_unsticks_a_task_whose_monitor_died(alpha):
    pidfile = alpha.shared / "orphan.pid"
    alpha.task("orphan.sh", f"""
echo $$ > {pidfile}
echo partial output
{alpha.gate("orphan")}
""")
    alpha.workflow("orphan", one_job("<task name='o' path='orphan.sh' queue='wide'/>"))
    instance_id = alpha.start_instance("orphan")
    task = running_task(alpha, instance_id)
    wait_until(lambda: len(read_lines(pidfile)) == 1)
    monitor, orphan = int(task.get("pid")), int(read_lines(pidfile)[0])
    os.kill(monitor, signal.SIGKILL)  # nobody will report this task's exit now
    wait_until(lambda: not pid_alive(monitor), 10)
    assert alpha.query(instance_id).get("status") == "EXECUTING"
    sent = alpha.run("--ipc-terminate-tid", task.get("tid"))
    assert sent.returncode == 0, sent.stderr
    alpha.wait(instance_id, 10)
    final = alpha.query(instance_id).find(".//task")
    assert (final.get("status"), final.get("retval")) == ("TERMINATED", "-1")
    assert final.find("output").text == "partial output\n"
    assert pid_alive(orphan), "the task itself was not the monitor's to kill"
    alpha.open_gate("orphan")
    wait_until(lambda: not pid_alive(orphan), 10)


def test_migrate_adopts_the_instance_of_a_stopped_node(pair):
    """Last of the module: it stops alpha. beta takes over alpha's running instance; the task
    that was running is taken as failed ("Task migrated") and retried on beta."""
    alpha, beta = pair
    runs = alpha.shared / "migrating.runs"
    for node in pair:
        node.task("migrating.sh", f"""
echo {node.name} >> {runs}
[ {node.name} = beta ] && {{ echo "finished on beta"; exit 0; }}
{node.gate("migrating")}
""")
    alpha.workflow("migrating", one_job(
        "<task name='m' path='migrating.sh' queue='wide' retry_delay='1' retry_times='1'/>"))
    instance_id = alpha.start_instance("migrating")
    running_task(alpha, instance_id)
    alpha.stop()
    with pytest.raises(ApiError) as error:
        beta.query(instance_id)
    assert error.value.code == "WRONG_NODE"
    beta.exec(f"<instance action='migrate' id='{instance_id}'/>")
    beta.wait(instance_id)
    final = beta.query(instance_id)
    task = final.find(".//task")
    assert [o.text for o in task.findall("output")] == ["Task migrated", "finished on beta\n"]
    assert (task.get("retval"), final.get("errors", "0")) == ("0", "0")
    assert alpha.db_rows("SELECT node_name, workflow_instance_status FROM t_workflow_instance "
                         "WHERE workflow_instance_id = ?", (instance_id,)) == [
        ("beta", "TERMINATED")]
    assert read_lines(runs) == ["alpha", "beta"]
    alpha.open_gate("migrating")
