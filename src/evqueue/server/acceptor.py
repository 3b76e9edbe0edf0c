"""The accept loop of a listening socket, backing off when the process runs out of descriptors.

asyncio's own accept loop (``loop.create_server``) logs a traceback for each failed ``accept()``
and, on Python 3.11, schedules one retry per failed call of a batch, so the retries multiply:
a node out of descriptors wrote over 100,000 tracebacks in 15 s. Rules here:

- Each time the socket is readable, up to ``batch`` connections are accepted; each goes to
  ``on_accept`` as a non-blocking socket, which owns it from then on.
- A failed ``accept()`` (EMFILE, ENFILE, ENOBUFS, ENOMEM, or anything else but a connection
  aborted by its peer) stops the watching of that socket for :data:`RETRY_DELAY` seconds: the
  pending connections wait in the kernel's backlog meanwhile. One line says so, at most one a
  second for every listener of the process together (:class:`ThrottledLog`).
- ``close()`` stops watching and closes the listening socket.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from evqueue.server.throttled_log import ThrottledLog

__all__ = ["RETRY_DELAY", "Acceptor"]

log = logging.getLogger("evqueue.server.accept")

#: Seconds a listener rests after a failed accept(). Short: once the peers of a flood leave,
#: each round of accepts takes in dead connections from the backlog until the descriptors
#: run out again, and their handlers close them meanwhile; with a second's rest, 200 of them
#: kept a node with 64 descriptors from taking a login for 3 s. The log still says it once a
#: second at most.
RETRY_DELAY = 0.1
#: One line a second at most, whichever listener fails.
_FAILURES = ThrottledLog(log, logging.ERROR)


class Acceptor:
    """Accepts the connections of one listening socket.

    Args:
        sock: a bound, listening socket.
        on_accept: called with each accepted socket (non-blocking); it must not raise.
        name: the listener, for log lines (``tcp://127.0.0.1:5000``).
        batch: connections accepted per readiness at most (then other work gets a turn).
        report: where failures are told; the one shared by every listener when None.
        retry_delay: seconds of rest after a failed accept().
    """

    def __init__(self, sock: socket.socket, on_accept: Callable[[socket.socket], None], *,
                 name: str, batch: int = 128, report: ThrottledLog | None = None,
                 retry_delay: float = RETRY_DELAY) -> None:
        self.sock = sock
        self.on_accept = on_accept
        self.name = name
        self.batch = batch
        self.report = report or _FAILURES
        self.retry_delay = retry_delay
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching = False
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def watching(self) -> bool:
        """Whether connections are being accepted now (False while resting or closed)."""
        return self._watching

    def start(self) -> None:
        """Start accepting (in the running loop)."""
        self._loop = asyncio.get_running_loop()
        self.sock.setblocking(False)
        self._watch()

    def close(self) -> None:
        """Stop accepting and close the listening socket."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        self._unwatch()
        self.sock.close()

    def _watch(self) -> None:
        self._retry = None
        if self._closed or self._loop is None:
            return
        self._loop.add_reader(self.sock.fileno(), self._ready)
        self._watching = True

    def _unwatch(self) -> None:
        if self._watching and self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
        self._watching = False

    def _ready(self) -> None:
        for _ in range(self.batch):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # gone before we took it
            except OSError as exc:
                self._rest(exc)
                return
            conn.setblocking(False)
            self.on_accept(conn)

    def _rest(self, exc: OSError) -> None:
        """Stop watching for a while after a failed accept()."""
        assert self._loop is not None
        self._unwatch()
        self._retry = self._loop.call_later(self.retry_delay, self._watch)
        self.report("cannot accept connections on %s: %s; trying again in %g s", self.name,
                    exc.strerror or exc, self.retry_delay)
