"""Turns for the clients that launch one at a time while others pipeline launches.

One event loop serves every connection, first come, first served. While connections pipeline
launches flat out, the loop is busy with their bursts: the rows of a burst go to the store in
one transaction, the savepoints of the instances they start in another, each a long stretch
of the loop that a client waiting for the reply of its one launch must wait behind, once for
its read and once for its reply.

Rules:

- A connection that launches alone (one launch, asynchronous or synchronous, then it waits
  for the reply), on the API port or a websocket, *waits in turn*; it stops waiting in turn
  when it pipelines launches, closes, or has launched nothing for :data:`WINDOW` seconds.
- While a connection waits in turn, the batch writers write launch rows and savepoints
  :data:`TURN_ROWS` per transaction and let the loop run between two transactions, so the
  waiting client's read and reply come between a burst's transactions instead of after all
  of them. Otherwise a batch is one transaction however large: bursts are faster alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from evqueue.protocol import Command

__all__ = ["TURN_ROWS", "WINDOW", "Turns", "is_launch"]

#: Rows (launch rows, or instance savepoints) per transaction while a client waits in turn.
TURN_ROWS = 1
#: Seconds after its last launch that a connection launching alone still waits in turn.
WINDOW = 1.0


def is_launch(command: Command) -> bool:
    """An ``instance launch``, asynchronous or synchronous."""
    return command.group == "instance" and command.action == "launch"


class Turns:
    """Which connections wait in turn; what batch size the store adapter may use."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._waiting: dict[object, float] = {}  # connection → time of its last lone launch

    def launched_alone(self, connection: object) -> None:
        """``connection`` launched one command and waits for its reply."""
        self._waiting[connection] = self._clock()

    def pipelined(self, connection: object) -> None:
        """``connection`` pipelines launches: it no longer waits in turn."""
        self._waiting.pop(connection, None)

    def gone(self, connection: object) -> None:
        """``connection`` closed."""
        self._waiting.pop(connection, None)

    def batch_rows(self) -> int | None:
        """Rows per transaction for batched writes: :data:`TURN_ROWS` while a connection
        waits in turn, None (no limit) otherwise."""
        if not self._waiting:
            return None
        stale = self._clock() - WINDOW
        for connection in [c for c, at in self._waiting.items() if at < stale]:
            del self._waiting[connection]
        return TURN_ROWS if self._waiting else None
