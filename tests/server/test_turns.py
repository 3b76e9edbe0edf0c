"""Turns: a connection that launches one at a time makes the batch writers write small
transactions while it waits; one that pipelines, closes or goes quiet does not."""

from __future__ import annotations

from evqueue.server.turns import TURN_ROWS, WINDOW, Turns


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_lone_launch_limits_the_batches_until_its_connection_pipelines():
    turns = Turns()
    lone, burst = object(), object()
    assert turns.batch_rows() is None  # nobody waits in turn: batches as large as they come
    turns.pipelined(burst)
    assert turns.batch_rows() is None
    turns.launched_alone(lone)
    assert turns.batch_rows() == TURN_ROWS
    turns.pipelined(lone)  # it pipelines now
    assert turns.batch_rows() is None
    turns.launched_alone(lone)
    turns.gone(lone)
    assert turns.batch_rows() is None


def test_a_connection_quiet_for_the_window_no_longer_waits_in_turn():
    clock = Clock()
    turns = Turns(clock)
    first, second = object(), object()
    turns.launched_alone(first)
    clock.now += WINDOW / 2
    turns.launched_alone(second)
    clock.now += WINDOW * 0.75
    assert turns.batch_rows() == TURN_ROWS  # the second launched less than WINDOW ago
    clock.now += WINDOW
    assert turns.batch_rows() is None
