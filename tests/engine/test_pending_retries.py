"""Pending retries."""

from __future__ import annotations

import datetime

from evqueue.engine.pending_retries import PendingRetry, Retrier

T0 = datetime.datetime(2024, 1, 1, 12, 0, 0)


def at(seconds: int) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def test_due_in_order():
    retrier = Retrier()
    retrier.add(at(30), 1, "b")
    retrier.add(at(10), 2, "a")
    retrier.add(at(20), 1, "c")
    assert retrier.next_due() == at(10)
    assert retrier.due(at(5)) == []
    assert retrier.due(at(20)) == [PendingRetry(at(10), 2, "a"), PendingRetry(at(20), 1, "c")]
    assert len(retrier) == 1 and retrier.next_due() == at(30)


def test_flush_returns_everything():
    retrier = Retrier()
    retrier.add(at(30), 1, "b")
    retrier.add(at(10), 2, "a")
    assert [r.evqid for r in retrier.flush()] == ["a", "b"]
    assert len(retrier) == 0 and retrier.next_due() is None


def test_cancel_instance():
    retrier = Retrier()
    retrier.add(at(10), 1, "a")
    retrier.add(at(20), 2, "b")
    assert [r.evqid for r in retrier.cancel_instance(1)] == ["a"]
    assert retrier.next_due() == at(20)
    assert [r.evqid for r in retrier.due(at(100))] == ["b"]


def test_adding_again_replaces():
    retrier = Retrier()
    retrier.add(at(10), 1, "a")
    retrier.add(at(50), 1, "a")
    assert len(retrier) == 1
    assert retrier.due(at(20)) == []
    assert retrier.due(at(50)) == [PendingRetry(at(50), 1, "a")]
