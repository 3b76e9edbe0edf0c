"""The queue pool (semantics.md §3)."""

from __future__ import annotations

import pytest

from evqueue.engine.queues import QueueDefinition, QueuedTask, QueueFigures, QueuePool


def task(instance_id: int, name: str) -> QueuedTask:
    return QueuedTask(instance_id, name)


def drain(pool: QueuePool) -> list[str]:
    names = []
    while (item := pool.next_runnable()) is not None:
        names.append(item[1].evqid)
    return names


def test_concurrency_is_never_exceeded():
    pool = QueuePool([QueueDefinition("q", 2)])
    for i in range(5):
        pool.enqueue("q", task(1, f"t{i}"))
    assert drain(pool) == ["t0", "t1"]  # full: nothing more until a task ends
    assert pool.figures("q") == QueueFigures("q", 2, 3, 2, "fifo")
    pool.task_finished("q")
    assert drain(pool) == ["t2"]
    pool.task_finished("q")
    pool.task_finished("q")
    assert drain(pool) == ["t3", "t4"]


def test_prio_runs_the_oldest_instance_first():
    pool = QueuePool([QueueDefinition("q", 1, "prio")])
    pool.enqueue("q", task(9, "new-a"))
    pool.enqueue("q", task(3, "old-a"))
    pool.enqueue("q", task(9, "new-b"))
    pool.enqueue("q", task(3, "old-b"))
    order = []
    while (item := pool.next_runnable()) is not None:
        order.append(item[1].evqid)
        pool.task_finished("q")
    assert order == ["old-a", "old-b", "new-a", "new-b"]


def test_default_scheduler():
    pool = QueuePool([QueueDefinition("q", 1, "default")], default_scheduler="prio")
    assert pool.statistics()[0].scheduler == "prio"
    with pytest.raises(ValueError):
        QueuePool([QueueDefinition("q", 1, "lifo")])


def test_queues_are_scanned_by_name():
    pool = QueuePool([QueueDefinition("b", 1), QueueDefinition("a", 1)])
    pool.enqueue("b", task(1, "in-b"))
    pool.enqueue("a", task(2, "in-a"))
    assert drain(pool) == ["in-a", "in-b"]


def test_dynamic_queue_per_host():
    pool = QueuePool([QueueDefinition("remote", 1, dynamic=True), QueueDefinition("local", 1)])
    assert pool.resolve("remote", "h1") == "remote@h1"
    assert pool.resolve("remote", "") == "remote"
    assert pool.resolve("local", "h1") == "local"
    assert pool.resolve("nope", "") is None
    assert pool.resolve("remote@h1", "") is None
    pool.enqueue("remote@h1", task(1, "a"))
    pool.enqueue("remote@h2", task(1, "b"))
    pool.enqueue("remote@h1", task(1, "c"))
    assert drain(pool) == ["a", "b"]  # concurrency applies per host
    assert [f.name for f in pool.statistics()] == ["local", "remote", "remote@h1", "remote@h2"]
    pool.task_finished("remote@h2")
    assert [f.name for f in pool.statistics()] == ["local", "remote", "remote@h1"]
    assert [d.name for d in pool.definitions()] == ["local", "remote"]
    with pytest.raises(KeyError):
        pool.enqueue("local@h1", task(1, "x"))


def test_cancel_instance():
    pool = QueuePool([QueueDefinition("q", 1)])
    for instance_id, name in [(1, "a"), (2, "b"), (1, "c")]:
        pool.enqueue("q", task(instance_id, name))
    assert [t.evqid for t in pool.cancel_instance(1)] == ["a", "c"]
    assert drain(pool) == ["b"]


def test_reload():
    pool = QueuePool([QueueDefinition("q", 1), QueueDefinition("gone", 1)])
    pool.enqueue("q", task(2, "x"))
    pool.enqueue("q", task(1, "y"))
    pool.enqueue("gone", task(1, "z"))
    pool.reload([QueueDefinition("q", 3, "prio")])
    assert pool.figures("q") == QueueFigures("q", 3, 2, 0, "prio")
    assert pool.resolve("gone", "") is not None  # kept while it has tasks
    assert drain(pool) == ["z", "y", "x"]
    pool.task_finished("gone")
    assert pool.figures("gone") is None and pool.resolve("gone", "") is None


def test_attach_counts_running_tasks():
    pool = QueuePool([QueueDefinition("q", 1)])
    pool.attach("q")
    pool.enqueue("q", task(1, "a"))
    assert pool.next_runnable() is None
    pool.task_finished("q")
    assert drain(pool) == ["a"]
