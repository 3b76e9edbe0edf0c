"""What a task leaves running, on a real node.

A task starts children out of its process group (``setsid``, ``nohup``, a double fork). Killing
the task (``instance killtask``, ``instance kill``) kills them all; a task that ends names them
in its ``<log>`` (pid and command line), and kills them too when
``processmanager.tasks.kill_leftovers`` says so.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal

import pytest

from tests.e2e.enginekit import EngineNode, one_job, pid_alive, read_lines, started, wait_until

LEAVE = one_job("<task name='leave' path='leave.sh' queue='default'/>")

#: Runs once it noted its pid, then waits (no child of its own); ``$1`` tells them apart.
STAY = """echo $$ >> {pids}
exec 4<> {never}
read x <&4
"""


def leaver(node: EngineNode, then: str) -> None:
    """``leave.sh``: three processes out of the task's group, a log line, then ``then``."""
    pids, never, stay = node.shared / "pids", node.shared / "never", node.shared / "stay.sh"
    with contextlib.suppress(FileExistsError):
        os.mkfifo(never)
    stay.write_text(STAY.format(pids=pids, never=never))
    node.task("leave.sh", f"""
setsid /bin/sh {stay} 300 > /dev/null 2>&1 &
nohup /bin/sh {stay} 301 > /dev/null 2>&1 &
( /bin/sh {stay} 302 > /dev/null 2>&1 & )
while [ "$(wc -l < {pids} 2> /dev/null)" != 3 ]; do sleep 0.01; done
echo 'all started' >&3
{then}
""")
    node.workflow("leave", LEAVE)


def left(node: EngineNode) -> list[int]:
    return [int(pid) for pid in read_lines(node.shared / "pids")]


def named(log: str, fate: str) -> dict[int, str]:
    """pid → argument of the stay processes the log names with ``fate``."""
    found = re.findall(rf"^evq_monitor: process (\d+) \(/bin/sh \S+/stay\.sh (30[012])\) "
                       rf"left by the task, {fate}$", log, re.MULTILINE)
    return {int(pid): argument for pid, argument in found}


@pytest.fixture
def make(tmp_path):
    nodes: list[EngineNode] = []

    def make(**settings: str) -> EngineNode:
        node = started(EngineNode(tmp_path / f"n{len(nodes)}", settings=settings))
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        for pid in left(node):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node.close()


def running(node: EngineNode, instance_id: int):
    def task():
        return node.query(instance_id).find(".//task[@status='EXECUTING']")
    wait_until(lambda: task() is not None, 20)
    wait_until(lambda: len(left(node)) == 3, 20, "the task did not start its children")
    return task()


@pytest.mark.parametrize("how", ["killtask", "kill"])
def test_killing_a_task_kills_the_processes_that_left_its_group(make, how):
    node = make()
    leaver(node, node.gate("leave"))
    instance_id = node.start_instance("leave")
    task = running(node, instance_id)
    pids = left(node)
    if how == "killtask":
        node.exec(f"<instance action='killtask' id='{instance_id}' pid='{task.get('pid')}'/>")
    else:
        node.exec(f"<instance action='kill' id='{instance_id}'/>")
    node.wait(instance_id)
    final = node.query(instance_id).find(".//task")
    assert final.get("retval") == "-1"
    wait_until(lambda: not any(pid_alive(pid) for pid in pids), 10,
               "a process of the killed task is still running")
    killed = named(final.find("log").text or "", "killed")
    assert set(killed) <= set(pids) and "300" in killed.values(), \
        "the one in a session of its own is named"


def test_a_task_names_what_it_leaves_running_in_its_log(make):
    node = make()
    leaver(node, "exit 0")
    final = node.run_workflow("leave").find(".//task")
    pids = left(node)
    assert (final.get("status"), final.get("retval")) == ("TERMINATED", "0")
    log = final.find("log").text
    assert log.startswith("all started\n")
    assert sorted(named(log, "left running")) == sorted(pids)
    assert all(pid_alive(pid) for pid in pids), "left running by default"


def test_kill_leftovers_kills_what_a_finished_task_leaves(make):
    node = make(**{"processmanager.tasks.kill_leftovers": "yes"})
    leaver(node, "exit 0")
    final = node.run_workflow("leave").find(".//task")
    pids = left(node)
    assert (final.get("status"), final.get("retval")) == ("TERMINATED", "0")
    assert sorted(named(final.find("log").text, "killed")) == sorted(pids)
    assert not any(pid_alive(pid) for pid in pids)
