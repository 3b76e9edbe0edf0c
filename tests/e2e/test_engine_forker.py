"""The forker of a real node dies (``kill -9``): the engine starts a new one at once.

Tasks that were running keep their monitors (their exits still arrive through the node's SysV
queue); launches that follow wait for the new forker instead of failing; ``/healthz`` and
``/metrics`` say ``ok`` again once it runs. A task started by the new forker still outlives
its engine, as every task does.
"""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.enginekit import EngineNode, one_job, pid_alive, read_lines, started, wait_until

RUNNING = 20
FOLLOWING = 20

HOLD = one_job("<task name='h' path='hold.sh' queue='wide'><input>"
               "<value select=\"evqGetWorkflowParameter('n')\"/></input></task>",
               parameters=("n",))


@pytest.fixture
def node(tmp_path):
    node = started(EngineNode(tmp_path / "forker"))
    try:
        node.queue("wide", RUNNING + FOLLOWING)
        node.task("hold.sh", f"""
echo "$1" >> {node.shared}/started
{node.gate("hold")}
echo "result $1"
""")
        node.workflow("hold", HOLD)
        yield node
    finally:
        node.close()


def forker_pid(node: EngineNode) -> int | None:
    text = (node.directory / "forker.pid").read_text().strip() if (
        node.directory / "forker.pid").exists() else ""
    return int(text) if text.isdigit() else None


def kill_forker(node: EngineNode) -> int:
    pid = forker_pid(node)
    assert pid is not None and pid_alive(pid)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(pid), 10, "the forker did not die")
    return pid


def http(node: EngineNode, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.ws_port}{path}", timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def health(node: EngineNode) -> str:
    return json.loads(http(node, "/healthz")[1])["status"]


def started_lines(node: EngineNode) -> list[str]:
    return read_lines(Path(node.shared) / "started")


def test_a_killed_forker_is_replaced_and_no_launch_fails(node):
    running = [node.start_instance("hold", {"n": str(i)}) for i in range(RUNNING)]
    wait_until(lambda: len(started_lines(node)) == RUNNING, 30, "the first tasks did not start")
    old = kill_forker(node)

    following = [node.start_instance("hold", {"n": str(i)})
                 for i in range(RUNNING, RUNNING + FOLLOWING)]
    wait_until(lambda: len(started_lines(node)) == RUNNING + FOLLOWING, 30,
               "the launches that followed the forker's death did not start")
    node.open_gate("hold")
    for n, instance_id in enumerate(running + following):
        node.wait(instance_id)
        final = node.query(instance_id)
        task = final.find(".//task")
        assert (final.get("status"), final.get("errors")) == ("TERMINATED", "0"), n
        assert (task.get("status"), task.get("retval")) == ("TERMINATED", "0"), n
        assert task.find("output").text == f"result {n}\n"
    assert sorted(map(int, started_lines(node))) == list(range(RUNNING + FOLLOWING)), \
        "every task ran once"
    new = forker_pid(node)
    assert new is not None and new != old and pid_alive(new)
    assert health(node) == "ok"
    status, metrics = http(node, "/metrics")
    assert status == 200 and b"\nevqueue_degraded 0\n" in metrics
    assert b"\nevqueue_forker_restarts_total 1\n" in metrics
    assert f"the forker (pid {old}) exited; starting a new one" in node.output()


def test_a_task_of_the_new_forker_outlives_its_engine(node):
    kill_forker(node)
    instance_id = node.start_instance("hold", {"n": "7"})
    wait_until(lambda: started_lines(node) == ["7"], 30, "the task did not start")
    node.stop(signal.SIGKILL)
    node.open_gate("hold")  # the task ends while no engine runs
    node.start()
    node.wait(instance_id)
    task = node.query(instance_id).find(".//task")
    assert (task.get("status"), task.get("retval")) == ("TERMINATED", "0")
    assert task.find("output").text == "result 7\n"
