"""Killing the engine again and again while tasks run and wait: every task runs exactly once.

The short version of ``tests/soak/crash_loop.py``. Ten one-task instances share a queue of
five: five tasks run, five wait. The engine is then killed (``kill -9``) or stopped
(SIGTERM) three times, each time right after some running tasks were let go, so their exits
arrive while no engine is there, and restarted. In the end every instance must be TERMINATED
without error, with its task's output, and every task must have started and ended once.

At savepoint level 2 the engine stores most changes within ``savepoint_window``; a launch
is stored before it is answered and a task's start recorded before its process starts. The
loop waits for the window before each kill; the other tests kill inside it: a launch that was
answered, and a task that was started (by a fresh engine, or by one that just took over),
must survive it too (docs/reliability.md, "Crash and restart").

One node serves the module; each test has a workflow, queue and files of its own.
"""

from __future__ import annotations

import signal

import pytest

from tests.e2e.nodes import Node, wait_for
from tests.reliability.kit import Workload, admin, store_rows

#: (signal, tasks started before it, tasks let go just before it)
CYCLES = [
    (signal.SIGKILL, 5, [0, 1]),
    (signal.SIGTERM, 7, [2, 3, 4]),
    (signal.SIGKILL, 10, [5, 6, 7, 8, 9]),
]


@pytest.fixture(scope="module")
def shared_node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("crash"), settings={"gc.enable": "no"}).start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


@pytest.fixture
def node(shared_node):
    """The module's node, running (a failed test may have left it stopped)."""
    if shared_node.process is None:
        shared_node.start()
    return shared_node


@pytest.fixture
def work(node, request):
    """A workload of its own (workflow and queue named after the test) on the shared node."""
    name = request.node.name.removeprefix("test_")[:40]
    work = Workload(node, name=name, queue=name, concurrency=5)
    yield work
    work.release_all()


def _single(client, work: Workload) -> None:  # type: ignore[no-untyped-def]
    """Let the workload's queue run one task at a time."""
    queue = next(q for q in client.exec("<queuepool action='list'/>")
                 if q.get("name") == work.queue)
    client.exec(f"<queue action='edit' id='{queue.get('id')}' name='{work.queue}'"
                " concurrency='1' scheduler='fifo' dynamic='no'/>")


def saved(node: Node, instances: list[int]) -> bool:
    """Whether every one of these instances has a savepoint in the store."""
    marks = ",".join("?" * len(instances))
    rows = store_rows(node, "SELECT COUNT(*) FROM t_workflow_instance WHERE workflow_instance_id"
                      f" IN ({marks}) AND workflow_instance_savepoint <> ''", instances)
    return rows[0][0] == len(instances)


def test_every_task_runs_exactly_once_across_kills_and_restarts(node, work):
    with admin(node) as client:
        work.install(client)
        work.launch(client, range(10))
    # Launched instances are saved within a fraction of a second; a kill inside that window
    # is the next test's business.
    assert wait_for(lambda: saved(node, list(work.instances.values())), 10)
    for sig, started, released in CYCLES:
        work.wait_started(started)
        work.wait_recorded()
        work.open(released)
        node.stop(sig)
        node.start()
    work.wait_finished(timeout=60)
    with admin(node) as client:
        assert work.verify(client) == []


def test_a_launch_that_was_answered_survives_an_immediate_kill(node, work):
    with admin(node) as client:
        work.install(client)
        work.concurrency = 1
        _single(client, work)
        work.launch(client, [0])  # runs, and keeps the queue full
        work.wait_started(1)
        work.wait_recorded()
        work.launch(client, [1])  # answered with an id, waiting in the queue
    node.stop(signal.SIGKILL)
    node.start()
    work.open([0, 1])
    work.wait_finished(timeout=60)
    with admin(node) as client:
        assert work.verify(client) == []


def test_a_task_that_was_started_is_not_started_again_after_an_immediate_kill(node, work):
    with admin(node) as client:
        work.install(client)
        work.launch(client, [0])
    assert wait_for(lambda: saved(node, list(work.instances.values())), 10)
    with admin(node) as client:
        work.launch(client, [1])
    work.wait_started(2)
    node.stop(signal.SIGKILL)  # at once: the start of task 1 may not be stored yet
    node.start()
    work.open([0, 1])
    work.wait_finished(timeout=60)
    with admin(node) as client:
        assert work.verify(client) == []


def test_a_task_started_just_after_a_restart_is_not_started_again(node, work):
    with admin(node) as client:
        work.install(client)
        _single(client, work)
        work.launch(client, [0, 1])  # 0 runs, 1 waits
    work.wait_started(1)
    assert wait_for(lambda: saved(node, list(work.instances.values())), 10)
    work.wait_recorded()
    node.stop(signal.SIGKILL)
    work.open([0])  # task 0 ends while no engine is there
    node.start()  # collects the exit of 0, then starts 1
    work.wait_started(2)
    node.stop(signal.SIGKILL)  # at once
    node.start()
    work.open([1])
    work.wait_finished(timeout=60)
    with admin(node) as client:
        assert work.verify(client) == []
