"""Private PostgreSQL and MariaDB servers that a soak run may stop and start at will.

Rules:
- Each server lives in its own temporary directory, listens on 127.0.0.1 on a free port and
  is owned by the soak run: stopping it disturbs nobody (the shared servers of the test
  suite are never touched).
- :meth:`DbServer.stop` is a clean shutdown (PostgreSQL ``-m fast``, MariaDB SIGTERM): every
  client connection is dropped, new ones are refused until :meth:`DbServer.start`.
- Needs root (the servers run as ``postgres`` / ``mysql``) and the server binaries of the
  distribution (``/usr/lib/postgresql/<v>/bin``, ``mariadbd``).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.e2e.nodes import free_port, wait_for

__all__ = ["DbServer", "MariaDbServer", "PostgresServer", "server_for"]


class DbServer:
    """A database server process of our own."""

    url: str

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server and remove its files."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __init__(self, owner: str) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="evq-db-"))
        os.chmod(self.directory, 0o755)
        shutil.chown(self.directory, owner, owner)
        self.owner = owner
        self.port = free_port()

    def _as_owner(self, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", self.owner, "--", *command], check=True,
                              capture_output=True, text=True, timeout=120)


class PostgresServer(DbServer):
    """``initdb`` + ``pg_ctl`` in a temporary directory; database ``evq``, trust auth."""

    def __init__(self) -> None:
        super().__init__("postgres")
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries in /usr/lib/postgresql")
        self.bin = Path(found[-1]).parent
        self.data = self.directory / "data"
        self._as_owner(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                       "-U", "postgres")
        self.start()
        self._as_owner(str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                       "-U", "postgres", "-d", "postgres", "-c", "CREATE DATABASE evq")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/evq"

    def start(self) -> None:
        self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                       str(self.directory / "server.log"), "-o",
                       f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
                       "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_owner(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast",
                           "stop")


class MariaDbServer(DbServer):
    """``mariadb-install-db`` + ``mariadbd`` in a temporary directory; database ``evq``."""

    def __init__(self) -> None:
        super().__init__("mysql")
        self.data = self.directory / "data"
        subprocess.run(["mariadb-install-db", "--user=mysql", f"--datadir={self.data}",
                        "--skip-test-db", "--auth-root-authentication-method=normal"],
                       check=True, capture_output=True, text=True, timeout=300)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()
        subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root",
                        "-e", "CREATE DATABASE evq CHARACTER SET utf8mb4"],
                       check=True, capture_output=True, text=True, timeout=60)
        self.url = f"mysql://root@127.0.0.1:{self.port}/evq"

    def start(self) -> None:
        log = open(self.directory / "server.log", "ab")  # noqa: SIM115 - the server's stdout
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", "--user=mysql", f"--datadir={self.data}",
             f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--socket={self.directory / 'server.sock'}",
             f"--pid-file={self.directory / 'server.pid'}", "--skip-grant-tables",
             "--innodb-buffer-pool-size=64M"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        if not wait_for(self._accepts, 60):
            raise RuntimeError(f"mariadbd did not start: {self.directory / 'server.log'}")

    def _accepts(self) -> bool:
        result = subprocess.run(["mariadb", "-h", "127.0.0.1", "-P", str(self.port), "-u",
                                 "root", "-e", "SELECT 1"], capture_output=True, timeout=10)
        return result.returncode == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(120)
        self.process = None
        time.sleep(0.1)


def server_for(backend: str) -> DbServer:
    """A started private server of ``backend`` (``postgresql`` or ``mariadb``)."""
    if backend == "postgresql":
        return PostgresServer()
    if backend == "mariadb":
        return MariaDbServer()
    raise ValueError(f"no private server for {backend!r}")
