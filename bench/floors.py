"""The raw floors: what this machine does without evqueue, measured in the same run.

Rules:
- Spawning: ``posix_spawn`` of a program and ``waitpid`` from one Python thread, one at a
  time (the sequential floor) or with ``width`` children in flight (the parallel floor);
  :func:`dag_floor` runs the 1 → N → 1 shape of B3 the same way.
- Commits: one-row INSERT + COMMIT through the plain driver (sqlite3, asyncpg, PyMySQL) on
  a scratch table, per second.
- API: an asyncio echo server on a unix socket or TCP, in its own interpreter, answering each
  newline-terminated message — what a Python server of this shape costs at the least.
- A new Python interpreter: ``python -c pass``.
- A task's own CPU: the user + system time the kernel charges to a spawned program itself
  (``wait4``'s resource usage), from its exec to its exit: what B1 takes out of the forker's
  tree to give the CPU of the forker and the monitors alone.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

__all__ = [
    "commit_floor",
    "dag_floor",
    "echo_floor",
    "interpreter_floor",
    "process_layer_round_trip",
    "spawn_floor",
    "task_cpu_floor",
]

_DEVNULL_FDS: list[int] = []


def _spawn(path: str, argv: list[str]) -> int:
    if not _DEVNULL_FDS:
        _DEVNULL_FDS.append(os.open(os.devnull, os.O_RDWR))
    null = _DEVNULL_FDS[0]
    actions = [(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
               (os.POSIX_SPAWN_DUP2, null, 2)]
    return os.posix_spawn(path, argv, os.environ, file_actions=actions)


def spawn_floor(count: int, width: int = 1, path: str = "/bin/true") -> float:
    """Children started and reaped per second, ``width`` at a time.

    Args:
        count: how many children in all.
        width: how many run at once.
        path: the program.
    """
    start = time.perf_counter()
    started = running = 0
    while started < count or running:
        while running < width and started < count:
            _spawn(path, [path])
            started += 1
            running += 1
        os.waitpid(-1, 0)
        running -= 1
    return count / (time.perf_counter() - start)


def task_cpu_floor(count: int, path: str = "/bin/true") -> float:
    """Milliseconds of CPU a spawned ``path`` costs itself (its exec, its run, its exit), by
    ``wait4``; the lowest of ten rounds of ``count // 10`` children (other work on the machine
    only adds to it)."""
    rounds = []
    for _ in range(10):
        total = 0.0
        for _ in range(max(1, count // 10)):
            _, _, usage = os.wait4(_spawn(path, [path]), 0)
            total += usage.ru_utime + usage.ru_stime
        rounds.append(total * 1000 / max(1, count // 10))
    return min(rounds)


def dag_floor(path: str, fan: int, width: int) -> float:
    """Seconds to run ``path`` once, then ``fan`` times ``width`` at a time, then once."""
    start = time.perf_counter()
    spawn_floor(1, 1, path)
    spawn_floor(fan, width, path)
    spawn_floor(1, 1, path)
    return time.perf_counter() - start


def interpreter_floor(count: int = 5) -> float:
    """Seconds to start and end a new Python interpreter (best of ``count``)."""
    best = float("inf")
    for _ in range(count):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


# -- commits -------------------------------------------------------------------------------


def commit_floor(url: str, count: int, directory: Path) -> float:
    """One-row commits per second on the database at ``url`` (a scratch database)."""
    if url.startswith("sqlite"):
        return _sqlite_commits(directory / "floor.db", count)
    if url.startswith("postgresql"):
        return asyncio.run(_pg_commits(url, count))
    return _mariadb_commits(url, count)


def _sqlite_commits(path: Path, count: int) -> float:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE floor (id INTEGER PRIMARY KEY, v TEXT)")
    start = time.perf_counter()
    for _ in range(count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO floor (v) VALUES ('x')")
        db.execute("COMMIT")
    rate = count / (time.perf_counter() - start)
    db.close()
    return rate


async def _pg_commits(url: str, count: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE floor (id SERIAL PRIMARY KEY, v TEXT)")
        start = time.perf_counter()
        for _ in range(count):
            await conn.execute("INSERT INTO floor (v) VALUES ('x')")  # autocommit: one commit
        return count / (time.perf_counter() - start)
    finally:
        await conn.close()


def _mariadb_commits(url: str, count: int) -> float:
    import pymysql

    database = url.rsplit("/", 1)[1]
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", database=database,
                           autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("CREATE TABLE floor (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT) "
                           "ENGINE=InnoDB")
            start = time.perf_counter()
            for _ in range(count):
                cursor.execute("INSERT INTO floor (v) VALUES ('x')")
            return count / (time.perf_counter() - start)
    finally:
        conn.close()


# -- an echo server ------------------------------------------------------------------------

_ECHO_SERVER = r"""
import asyncio, sys
async def client(reader, writer):
    while line := await reader.readline():
        writer.write(b'<response status="OK"/>\n')
async def main():
    if sys.argv[1] == 'unix':
        server = await asyncio.start_unix_server(client, path=sys.argv[2])
    else:
        server = await asyncio.start_server(client, '127.0.0.1', int(sys.argv[2]))
    print('ready', flush=True)
    await server.serve_forever()
asyncio.run(main())
"""


def echo_floor(transport: str, directory: Path, count: int) -> tuple[float, float]:
    """(round trip in seconds, pipelined messages per second) against an asyncio echo
    server of one line per message, over ``transport``."""
    if transport == "unix":
        address: str = str(directory / "echo.socket")
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            address = str(probe.getsockname()[1])
    server = subprocess.Popen([sys.executable, "-c", _ECHO_SERVER, transport, address],
                              stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        server.stdout.readline()
        if transport == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(address)
        else:
            sock = socket.create_connection(("127.0.0.1", int(address)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with sock:
            return _echo_round_trip(sock, count), _echo_pipelined(sock, count)
    finally:
        server.terminate()
        server.wait()


def _echo_round_trip(sock: socket.socket, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        sock.sendall(b"<ping/>\n")
        data = b""
        while not data.endswith(b"\n"):
            data += sock.recv(65536)
    return (time.perf_counter() - start) / count


def _echo_pipelined(sock: socket.socket, count: int, window: int = 64) -> float:
    start = time.perf_counter()
    sent = received = 0
    while received < count:
        burst = min(window - (sent - received), count - sent)
        if burst > 0:
            sock.sendall(b"<ping/>\n" * burst)
            sent += burst
        received += sock.recv(1 << 20).count(b"\n")
    return count / (time.perf_counter() - start)


# -- the process layer alone ---------------------------------------------------------------


def process_layer_round_trip(directory: Path, count: int) -> float:
    """Median seconds from asking the process layer for a ``/bin/true`` task to receiving its
    exit, one task at a time: the engine's own ProcessManager, forker and monitor, no engine."""
    return asyncio.run(_process_layer(directory, count))


async def _process_layer(directory: Path, count: int) -> float:
    from evqueue.process.ipc import parse_qid, remove_queue
    from evqueue.process.manager import ProcessManager
    from evqueue.process.spec import ProcessSettings, TaskSpec

    settings = ProcessSettings(node="floor", ipc_key=parse_qid(str(directory)),
                               logs_directory=str(directory))
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] = loop.create_future()

    def exited(item: object) -> None:
        if not waiter.done():
            waiter.set_result(None)

    manager = ProcessManager(settings, on_exit=exited, on_progress=lambda tid, pct: None)
    await manager.start()
    try:
        times = []
        for tid in range(1, count + 1):
            waiter = loop.create_future()
            start = time.perf_counter()
            manager.spawn(TaskSpec.build(settings, tid=tid, path="/bin/true"))
            await waiter
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]
    finally:
        await manager.stop()
        remove_queue(settings.ipc_key)
