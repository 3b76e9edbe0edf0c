"""A PostgreSQL server of its own on a lab machine (``tests/cluster/netlab.py``).

Rules:
- The server is the distribution's newest ``/usr/lib/postgresql/*/bin``: a data directory
  made by ``initdb`` in a fresh directory of ``/tmp`` owned by ``postgres``, run by
  ``pg_ctl`` as the ``postgres`` user on the machine, listening on the machine's address
  only (and on a unix socket in that directory, for its administration).
- One role and one database for evqueue (``evqueue`` / ``secret``), reachable from
  :data:`~tests.cluster.netlab.SUBNET` with a password (``scram-sha-256``): what a real
  cluster's nodes use. Nothing else may connect over the network.
- :meth:`PostgresServer.stop` stops it (fast shutdown) and removes its directory.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import tempfile
from pathlib import Path

from tests.cluster.netlab import SUBNET, Lab

__all__ = ["PostgresServer", "postgres_bindir"]

PORT = 5432


def postgres_bindir() -> Path:
    """The newest PostgreSQL server's binaries (``/usr/lib/postgresql/N/bin``).

    Raises:
        FileNotFoundError: no server is installed (``scripts/services.sh`` installs one).
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda path: int(Path(path).parts[-3]))
    if not found:
        raise FileNotFoundError("no PostgreSQL server in /usr/lib/postgresql (run "
                                "`bash scripts/services.sh`)")
    return Path(found[-1]).parent


class PostgresServer:
    """A PostgreSQL server on ``machine`` of ``lab``, at ``address``.

    Args:
        lab: the lab.
        machine: the machine it runs on.
        address: that machine's address.
        settings: extra server settings (``-c name=value``).
    """

    database = "evqueue"
    user = "evqueue"
    password = "secret"

    def __init__(self, lab: Lab, machine: str, address: str, *,
                 settings: dict[str, str] | None = None) -> None:
        self.lab = lab
        self.machine = machine
        self.address = address
        self.settings = {"listen_addresses": address, "port": str(PORT), "fsync": "off",
                         **(settings or {})}
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="evq-pg-"))
        self.data = self.root / "data"
        self.started = False

    @property
    def url(self) -> str:
        """The URL the nodes use (``database.url``)."""
        return self.url_at(self.address)

    @classmethod
    def url_at(cls, address: str) -> str:
        """The URL of the evqueue database of a server at ``address``."""
        return f"postgresql://{cls.user}:{cls.password}@{address}:{PORT}/{cls.database}"

    def start(self) -> PostgresServer:
        """initdb, start, create the role and the database of evqueue."""
        account = pwd.getpwnam("postgres")
        os.chown(self.root, account.pw_uid, account.pw_gid)
        self._as_postgres("initdb", "-D", str(self.data), "--auth-local=trust",
                          "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C")
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write(f"host {self.database} {self.user} {SUBNET} scram-sha-256\n")
        options = " ".join(f"-c {name}={value}" for name, value in self.settings.items())
        self._as_postgres("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
                          "-w", "-t", "60", "-o", f"{options} -c unix_socket_directories="
                          f"{self.root}", "start")
        self.started = True
        self._as_postgres("psql", "-h", str(self.root), "-p", str(PORT), "-d", "postgres",
                          "-v", "ON_ERROR_STOP=1",
                          "-c", f"CREATE ROLE {self.user} LOGIN PASSWORD '{self.password}'",
                          "-c", f"CREATE DATABASE {self.database} OWNER {self.user}")
        return self

    def log(self) -> str:
        """What the server logged so far."""
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the server and remove its directory."""
        try:
            if self.started:
                self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _as_postgres(self, program: str, *args: str) -> str:
        return self.lab.run(self.machine, str(self.bindir / program), *args, user="postgres",
                            cwd=self.root)
