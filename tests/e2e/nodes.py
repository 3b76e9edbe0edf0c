"""Real engine processes for end-to-end tests: write a config, start ``evqueue``, stop it.

A ``Node`` lives in its own temporary directory (``core.wd``) with its own IPC key (the
directory's inode), pidfile, logs, unix socket and free TCP ports, so tests never collide.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from evqueue.process.ipc import parse_qid, remove_queue

__all__ = ["Node", "free_port", "wait_for"]

START_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = START_TIMEOUT, interval: float = 0.02) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` runs out; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


class Node:
    """One engine node in ``directory`` (created if needed)."""

    def __init__(self, directory: Path, *, name: str = "node1", db_url: str | None = None,
                 settings: dict[str, str] | None = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.api_port = free_port()
        self.ws_port = free_port()
        self.socket_path = str(self.directory / "evqueue.socket")
        self.pidfile = str(self.directory / "evqueue.pid")
        self.config_path = self.directory / "evqueue.conf"
        values = {
            "core.wd": str(self.directory),
            "core.pidfile": self.pidfile,
            "core.ipc.qid": str(self.directory),
            "forker.pidfile": str(self.directory / "forker.pid"),
            "processmanager.logs.directory": str(self.directory),
            "processmanager.scripts.directory": str(self.directory),
            "notifications.tasks.directory": str(self.directory),
            "notifications.logs.directory": str(self.directory),
            "network.bind.ip": "127.0.0.1",
            "network.bind.port": str(self.api_port),
            "network.bind.path": self.socket_path,
            "ws.bind.port": str(self.ws_port),
            "cluster.node.name": name,
            "logger.syslog.enable": "no",
            "database.url": db_url or f"sqlite:///{self.directory / 'evqueue.db'}",
        }
        values.update(settings or {})
        self.socket_path = values["network.bind.path"]
        self.config_path.write_text("".join(f"{k} = '{v}'\n" for k, v in values.items()))
        self.process: subprocess.Popen[bytes] | None = None
        # The IPC key comes from the directory's inode; a recycled inode could bring back a
        # queue (and task exits) left by an earlier test run.
        self.remove_ipc_queue()

    def remove_ipc_queue(self) -> None:
        """Drop this node's SysV queue, if it exists."""
        remove_queue(parse_qid(str(self.directory)))

    def command(self, *extra: str) -> list[str]:
        """The command line that runs this node's engine."""
        return [sys.executable, "-m", "evqueue", "--config", str(self.config_path), *extra]

    def run(self, *extra: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run ``evqueue`` with extra flags to completion (utilities, ``--daemon``)."""
        return subprocess.run(self.command(*extra), capture_output=True, text=True,
                              timeout=timeout, cwd=self.directory)

    def start(self) -> Node:
        """Start the engine in the foreground and wait until it serves."""
        self.log = open(self.directory / "engine.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=self.directory)
        if not wait_for(lambda: self.serving() or self.process.poll() is not None):
            raise TimeoutError(f"node {self.name} did not start:\n{self.output()}")
        if self.process.poll() is not None:
            raise RuntimeError(f"node {self.name} exited {self.process.returncode}:\n"
                               f"{self.output()}")
        return self

    def serving(self) -> bool:
        """True once the pidfile holds a pid, the node said it serves and its unix socket
        accepts connections."""
        return (self.pid() is not None and f"node {self.name} started" in self.output()
                and self.accepts())

    def accepts(self) -> bool:
        """True when a connection to the node's unix socket is accepted (or it has none)."""
        if not self.socket_path:
            return True
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            try:
                sock.connect(self.socket_path)
            except OSError:
                return False
        return True

    def pid(self) -> int | None:
        """The pid in the node's pidfile, if any."""
        try:
            text = Path(self.pidfile).read_text().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def output(self) -> str:
        """What the engine printed so far."""
        path = self.directory / "engine.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        """Signal the engine and wait for it; returns its exit code (None if it was not ours)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(sig)
            code = self.process.wait(timeout)
            self.log.close()
            self.process = None
            return code
        pid = self.pid()
        if pid is not None:
            os.kill(pid, sig)
            wait_for(lambda: not _alive(pid), timeout)
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
