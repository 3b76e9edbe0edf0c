"""Helpers of the process-layer tests: a callback recorder to await, FIFOs to hold tasks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from evqueue.process.gatherer import TaskExit
from evqueue.process.manager import ProcessManager
from evqueue.process.spec import ProcessSettings

__all__ = ["WAIT", "Recorder", "make_fifo", "release_fifo", "stay_names", "write_leaver"]

WAIT = 10.0  # generous upper bound for an awaited event; tests end as soon as it happens


class Recorder:
    """Collects ProcessManager callbacks and lets a test await them."""

    def __init__(self) -> None:
        self.exits: dict[int, TaskExit] = {}
        self.progress: list[tuple[int, int]] = []
        self.started: dict[int, int] = {}
        self.order: list[tuple[str, int]] = []
        self._changed = asyncio.Event()

    def on_exit(self, item: TaskExit) -> None:
        self.exits[item.tid] = item
        self.order.append(("exit", item.tid))
        self._changed.set()

    def on_progress(self, tid: int, percent: int) -> None:
        self.progress.append((tid, percent))
        self.order.append(("progress", tid))
        self._changed.set()

    def on_started(self, tid: int, pid: int) -> None:
        self.started[tid] = pid
        self.order.append(("started", tid))
        self._changed.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        """Wait until ``predicate()`` holds (re-checked after every callback)."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def exit_of(self, tid: int) -> TaskExit:
        await self.until(lambda: tid in self.exits)
        return self.exits[tid]

    async def progress_of(self, tid: int) -> int:
        await self.until(lambda: any(t == tid for t, _ in self.progress))
        return [p for t, p in self.progress if t == tid][-1]

    def manager(self, settings: ProcessSettings, **kwargs: object) -> ProcessManager:
        return ProcessManager(
            settings, self.on_exit, self.on_progress, on_started=self.on_started, **kwargs
        )


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


async def release_fifo(path: Path, data: bytes = b"go\n") -> None:
    """Write to a FIFO a task is blocked on (opening blocks until the task has it open)."""

    def write() -> None:
        with open(path, "wb") as fifo:
            fifo.write(data)

    await asyncio.to_thread(write)


#: A process that notes its pid once it runs this script, then waits forever (no child).
STAY = """echo $$ >> {pids}
exec 4<> {fifo}
read x <&4
"""
#: Leaves three of them behind (one in a new session, one nohup'ed, one double-forked) and
#: returns once they all run.
LEAVER = """
setsid /bin/sh {stay} 300 > /dev/null 2>&1 &
nohup /bin/sh {stay} 301 > /dev/null 2>&1 &
( /bin/sh {stay} 302 > /dev/null 2>&1 & )
while [ "$(wc -l < {pids} 2> /dev/null)" != 3 ]; do sleep 0.01; done
"""


def write_leaver(directory: Path) -> str:
    """The text of a shell script that leaves three processes; they note their pids in
    ``directory/pids`` (its stay script and FIFO are made in ``directory``)."""
    pids, fifo, stay = directory / "pids", directory / "never", directory / "stay.sh"
    os.mkfifo(fifo)
    stay.write_text(STAY.format(pids=pids, fifo=fifo))
    return LEAVER.format(stay=stay, pids=pids)


def stay_names(directory: Path, pids: list[int]) -> list[str]:
    """How :func:`evqueue.process.leftovers.describe` names these running stay processes."""
    names = []
    for pid in pids:
        argument = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[2].decode()
        names.append(f"{pid} (/bin/sh {directory / 'stay.sh'} {argument})")
    return names
