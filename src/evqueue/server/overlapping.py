"""The commands of one connection that run while the ones before them wait (the rules are
:mod:`evqueue.api.pipelining`'s): started in order, answered in order.

Rules:

- :meth:`OverlappingCommands.start` runs a command in a task of its own, with its
  :class:`~evqueue.api.pipelining.Turn` (after the previous command's) in the task's context,
  and returns at once: the commands of a pipelined burst start in the same loop turn.
- A command that ends gives up its turn if it had not taken it, so the next ones go on.
- The connection takes the responses back oldest first (:meth:`oldest`), and answers every
  command still running before it reads from the network again or starts a command that may
  not overlap: nothing waits for a client that waits for its answers.
- A command is never cancelled because its connection stopped waiting for it: a launch whose
  row is on its way to the store ends like any other (:meth:`settle`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Coroutine
from typing import Any

from evqueue.api.pipelining import TURN, Turn
from evqueue.protocol import Response

__all__ = ["OverlappingCommands"]


class OverlappingCommands:
    """The running overlapped commands of one connection, oldest first."""

    def __init__(self) -> None:
        self._running: deque[asyncio.Task[Response]] = deque()
        self._last: Turn | None = None

    def __len__(self) -> int:
        return len(self._running)

    def start(self, work: Coroutine[Any, Any, Response]) -> None:
        """Run ``work`` after the commands started before it took their turns."""
        previous = self._last if self._last is not None and not self._last.done else None
        turn = self._last = Turn(previous)
        context = contextvars.copy_context()
        context.run(TURN.set, turn)
        task = asyncio.get_running_loop().create_task(work, context=context)
        task.add_done_callback(lambda _: turn.taken())
        self._running.append(task)

    def oldest(self) -> asyncio.Task[Response]:
        """The oldest running command, taken out (call only when there is one)."""
        return self._running.popleft()

    async def settle(self) -> None:
        """Wait for every command still running, their responses dropped (the connection is
        going away)."""
        while self._running:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self._running.popleft())
