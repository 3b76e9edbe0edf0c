"""The engine's TaskLauncher over the process layer: a start is recorded before the forker
is asked for it, and read back by a restarted engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from evqueue.engine.actions import TaskCommand
from evqueue.engine.ports import LaunchError
from evqueue.process.spec import ProcessSettings, TaskSpec
from evqueue.server.engine_ports import ProcessLauncher


class Manager:
    """Stands for the ProcessManager: notes what the journal held at each spawn."""

    def __init__(self, journal: Path, fail: bool = False) -> None:
        self.journal, self.fail = journal, fail
        self.seen: list[bytes] = []

    def spawn(self, spec: TaskSpec) -> None:
        self.seen.append(self.journal.read_bytes() if self.journal.exists() else b"")
        if self.fail:
            raise OSError("forker gone")


def command(instance_id: int, evqid: str) -> TaskCommand:
    return TaskCommand(instance_id=instance_id, evqid=evqid, name="t", type="BINARY",
                       path="/bin/true", args=())


def launcher(logs: Path, manager: Manager) -> ProcessLauncher:
    launcher = ProcessLauncher(ProcessSettings(logs_directory=str(logs), node="n1"))
    launcher.bind(manager)  # type: ignore[arg-type]
    return launcher


async def test_a_start_is_recorded_before_the_forker_is_asked(tmp_path: Path) -> None:
    manager = Manager(tmp_path / "n1.starts")
    first = launcher(tmp_path, manager)
    spawning = asyncio.ensure_future(first.spawn(4, command(12, "3"), record=True))
    await asyncio.sleep(0)
    assert manager.seen == [b"4 12 3\n"]
    spawning.cancel()
    unrecorded = asyncio.ensure_future(first.spawn(5, command(12, "4")))
    await asyncio.sleep(0)
    assert manager.seen[-1] == b"4 12 3\n"  # levels 0 and 1 record nothing
    unrecorded.cancel()
    first.journal.close()
    # What a restarted engine reads (once: later records are its own run's).
    again = launcher(tmp_path, Manager(tmp_path / "n1.starts"))
    assert again.recorded_tids(12, "3") == [4]
    assert again.recorded_tids(12, "3") == []  # given once
    spawning = asyncio.ensure_future(again.spawn(9, command(12, "4"), record=True))
    await asyncio.sleep(0)
    assert again.recorded_tids(12, "4") == []
    spawning.cancel()
    again.keep_records({9})
    again.journal.close()
    assert (tmp_path / "n1.starts").read_bytes() == b"9 12 4\n"


async def test_a_start_the_forker_refused_is_forgotten(tmp_path: Path) -> None:
    refused = launcher(tmp_path, Manager(tmp_path / "n1.starts", fail=True))
    with pytest.raises(LaunchError, match="forker gone"):
        await refused.spawn(4, command(12, "3"), record=True)
    refused.keep_records(set(refused.journal._live))  # what is still in use
    assert (tmp_path / "n1.starts").read_bytes() == b""


async def test_a_start_that_cannot_be_recorded_is_not_asked_for(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    manager = Manager(missing / "n1.starts")
    with pytest.raises(LaunchError, match="Unable to record the task's start"):
        await launcher(missing, manager).spawn(4, command(12, "3"), record=True)
    assert manager.seen == []
