"""The store becomes unwritable for a while: the node keeps answering, and loses nothing.

Another process holds the SQLite file with ``BEGIN EXCLUSIVE`` for a few seconds while tasks
end. Savepoints are retried until the lock goes; meanwhile the API answers (pings, running
instances from memory, a launch gets an answer); afterwards every instance has ended
correctly and its task ran once. The long versions (PostgreSQL and MariaDB servers stopped for
30 s) are ``tests/soak/db_outage.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.nodes import Node, wait_for
from tests.reliability.kit import Workload, admin

LOCK_SECONDS = 4.0

LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


class Locker:
    """A separate process holding the database's write lock until :meth:`release`."""

    def __init__(self, database: Path) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", LOCKER, str(database)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "locked"

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        assert self.process.wait(30) == 0


@pytest.fixture
def node(tmp_path):
    node = Node(tmp_path / "locked", settings={"gc.enable": "no"}).start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


@pytest.fixture
def work(node):
    work = Workload(node, concurrency=7)
    yield work
    work.release_all()


def test_a_locked_sqlite_file_delays_writes_but_loses_nothing(node, work):
    with admin(node) as client, ThreadPoolExecutor(1) as pool:
        work.install(client)
        work.launch(client, range(6))
        work.wait_started(6)
        first = list(work.instances.values())
        locker = Locker(Path(node.directory) / "evqueue.db")
        locked_at = time.monotonic()
        try:
            work.open(range(6))  # the tasks end while nothing can be written
            # A launch needs the store: it is answered once the lock is gone.
            launched = pool.submit(_launch, node, work, 6)
            assert wait_for(lambda: len(work.ended()) == 6, 10)
            slowest = 0.0
            while time.monotonic() - locked_at < LOCK_SECONDS:
                start = time.monotonic()
                client.exec("<ping/>")
                for instance_id in first:  # answered from memory
                    assert len(client.exec(f"<instance action='query' id='{instance_id}'/>"))
                client.exec("<status action='query' type='workflows'/>")
                slowest = max(slowest, time.monotonic() - start)
            assert slowest < 1.0, f"the API took {slowest:.2f}s to answer during the lock"
            assert work.finished() == set(), "nothing could be written during the lock"
            assert not launched.done()
        finally:
            locker.release()
        released_at = time.monotonic()
        launched.result(timeout=30)
        assert time.monotonic() - released_at < 10
        work.open([6])
        work.wait_finished(timeout=60)
        assert work.verify(client) == []
    assert node.process is not None and node.process.poll() is None


def _launch(node: Node, work: Workload, n: int) -> None:
    with admin(node) as client:
        work.launch(client, [n])
