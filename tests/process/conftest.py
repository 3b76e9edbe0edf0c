"""Fixtures of the process-layer tests: a per-test IPC queue keyed by the test's tmp dir,
per-test logs/scripts/tasks directories, and a started ProcessManager."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sysv_ipc

from evqueue.process.ipc import ftok, open_queue, remove_queue
from evqueue.process.manager import ProcessManager
from evqueue.process.spec import ProcessSettings
from tests.process.helpers import Recorder


@pytest.fixture
def ipc_key(tmp_path: Path) -> Iterator[int]:
    """A queue key of this test's own (ftok of its tmp dir), removed at teardown."""
    key = ftok(str(tmp_path))
    remove_queue(key)  # a stale queue of a crashed run
    yield key
    remove_queue(key)


@pytest.fixture
def queue(ipc_key: int) -> sysv_ipc.MessageQueue:
    """The test's queue, opened."""
    return open_queue(ipc_key)


@pytest.fixture
def settings(tmp_path: Path, ipc_key: int) -> ProcessSettings:
    """Process settings rooted in the test's tmp dir."""
    for name in ("logs", "scripts", "tasks", "wd"):
        (tmp_path / name).mkdir()
    return ProcessSettings(
        node="node1",
        ipc_key=ipc_key,
        core_wd=str(tmp_path / "wd"),
        logs_directory=str(tmp_path / "logs"),
        tasks_directory=str(tmp_path / "tasks"),
        scripts_directory=str(tmp_path / "scripts"),
        forker_pidfile=str(tmp_path / "forker.pid"),
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def manager(settings: ProcessSettings, recorder: Recorder) -> AsyncIterator[ProcessManager]:
    """A started ProcessManager with its own forker."""
    pm = recorder.manager(settings)
    await pm.start()
    yield pm
    await pm.stop()
