"""Action and result records."""

from __future__ import annotations

import dataclasses

import pytest

from evqueue.engine import Spilled, TaskCommand, TaskResult


def test_records_are_frozen():
    command = TaskCommand(1, "3", "t", "BINARY", "/bin/true", ())
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.path = "/bin/false"  # type: ignore[misc]
    assert command.stdin == b"" and command.env == {}
    assert TaskResult(0, Spilled(datastore_id=1)).stdout.datastore_id == 1
