"""The accept loop: connections handed over, a rest after a failed accept(), one line a second."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket

from evqueue.server.acceptor import Acceptor
from evqueue.server.throttled_log import ThrottledLog


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Exhausted:
    """A listening socket that is always readable and whose accept() fails with EMFILE, as one
    does while the process has no descriptor left."""

    def __init__(self) -> None:
        self.readable, self.writer = socket.socketpair()
        self.writer.send(b"x")
        self.accepts = 0

    def fileno(self) -> int:
        return self.readable.fileno()

    def setblocking(self, flag: bool) -> None:
        pass

    def accept(self) -> tuple[socket.socket, object]:
        self.accepts += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def close(self) -> None:
        self.readable.close()
        self.writer.close()


async def until(predicate, turns: int = 1000) -> None:  # type: ignore[no-untyped-def]
    for _ in range(turns):
        if predicate():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("condition not reached")


async def test_accepted_connections_are_handed_over_until_close() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    acceptor = Acceptor(listener, accepted.append, name="test")
    acceptor.start()
    clients = [socket.create_connection(listener.getsockname()) for _ in range(3)]
    try:
        await until(lambda: len(accepted) == 3)
        assert all(not conn.getblocking() for conn in accepted)
    finally:
        acceptor.close()
        for sock in clients + accepted:
            sock.close()
    assert listener.fileno() == -1 and not acceptor.watching


async def test_a_failed_accept_rests_the_listener_and_is_told_once_a_second(caplog) -> None:
    listener = Exhausted()
    clock = Clock()
    report = ThrottledLog(logging.getLogger("tests.acceptor"), logging.ERROR, clock=clock)
    acceptor = Acceptor(listener, lambda conn: None, name="tcp://x", report=report,  # type: ignore[arg-type]
                        retry_delay=0.01)
    with caplog.at_level(logging.ERROR, logger="tests.acceptor"):
        acceptor.start()
        await until(lambda: listener.accepts == 1)
        assert not acceptor.watching  # one failure, not a batch of them, then a rest
        await until(lambda: acceptor.watching)
        await until(lambda: listener.accepts == 2)  # tried again after the rest
        clock.now += 1
        await until(lambda: listener.accepts == 3)
        acceptor.close()
    assert listener.accepts == 3
    assert [r.getMessage() for r in caplog.records] == [
        "cannot accept connections on tcp://x: Too many open files; trying again in 0.01 s",
        "cannot accept connections on tcp://x: Too many open files; trying again in 0.01 s"
        " (1 more like this since the last line)",
    ]
