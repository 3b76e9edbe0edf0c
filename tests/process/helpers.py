"""Helpers of the process-layer tests: a callback recorder to await, FIFOs to hold tasks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from evqueue.process.gatherer import TaskExit
from evqueue.process.manager import ProcessManager
from evqueue.process.spec import ProcessSettings

__all__ = ["WAIT", "Recorder", "make_fifo", "release_fifo"]

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
