"""A development cluster on one machine: one node per developer directory (evQueue's guide).

Rules:
- The team is the directories of the data directory (``/data`` by default), sorted by name
  (byte order, as ``LC_ALL=C ls``); hidden ones and plain files (the shared SQLite store) are
  not developers. Developer number ``i`` gets the websocket port ``base + i``.
- Every node is started from ONE configuration file with three variables, as in the guide:
  ``login`` (the directory name), ``port`` and ``cluster`` (every node's API socket,
  ``unix://DATA/<login>/evqueue.socket``, comma-separated).
- The configuration names ``/data`` (the guide's lines, kept verbatim). For another data
  directory the nodes run on a copy of it, ``DATA/.evqueue.multiuser.conf``, in which every
  ``/data/`` reads ``DATA/`` (:func:`node_config`); ``start-cluster.sh`` writes the same copy.
- A node is running while its pidfile is locked (the engine holds the lock for its whole life);
  it is "up" when, in addition, its API socket accepts connections.
- Nodes are started with ``evqueue --daemon`` of this installation, which returns once the node
  serves or with the reason it could not; stopping sends SIGTERM to the pid of a locked pidfile
  and waits for the lock to be released.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from evqueue.config import Config, load_config
from evqueue.process.ipc import parse_qid

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_DATA",
    "DEFAULT_PORT",
    "GUIDE_DATA",
    "Member",
    "Team",
    "node_config",
    "team_members",
]

#: The data directory of the guide: the configuration's paths name it.
GUIDE_DATA = "/data"
DEFAULT_DATA = GUIDE_DATA
DEFAULT_PORT = 5100
DEFAULT_CONFIG = "/etc/evqueue.multiuser.conf"
#: The copy of the configuration used for a data directory other than /data.
DERIVED_CONFIG = ".evqueue.multiuser.conf"
#: Seconds a node is given to stop after SIGTERM.
STOP_TIMEOUT = 30.0


def team_members(data: str) -> list[str]:
    """The developers: directory names of ``data``, sorted, hidden ones left out."""
    root = Path(data)
    return sorted((entry.name for entry in root.iterdir()
                   if entry.is_dir() and not entry.name.startswith(".")),
                  key=lambda name: name.encode())


def node_config(config: str, data: str) -> str:
    """The configuration file the nodes of ``data`` run on: ``config`` itself for ``/data``,
    else a copy in ``data`` where every ``/data/`` reads ``data/`` (written each time)."""
    data = os.path.abspath(data)
    if data == GUIDE_DATA:
        return config
    text = Path(config).read_text()
    derived = Path(data) / DERIVED_CONFIG
    derived.write_text(text.replace(GUIDE_DATA + "/", data + "/"))
    return str(derived)


def _locked(path: str) -> bool:
    """Whether another process holds the lock of the pidfile ``path``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _accepts(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Member:
    """One developer's node, as its configuration describes it."""

    login: str
    port: int
    environment: dict[str, str]
    cfg: Config

    @property
    def pidfile(self) -> str:
        """The node's ``core.pidfile``."""
        return self.cfg.path("core.pidfile")

    @property
    def socket(self) -> str:
        """The node's API unix socket (``network.bind.path``)."""
        return self.cfg.path("network.bind.path")

    @property
    def ipc_key(self) -> str:
        """The node's IPC queue key, in hex ("?" when its directory is missing)."""
        try:
            return f"{parse_qid(self.cfg['core.ipc.qid']) & 0xFFFFFFFF:#010x}"
        except Exception:  # the status line must print whatever is wrong with one node
            return "?"

    def pid(self) -> int | None:
        """The pid of the running node, or None when it does not run."""
        if not _locked(self.pidfile):
            return None
        try:
            text = Path(self.pidfile).read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def state(self) -> str:
        """``up`` (serving), ``starting`` (running, socket not answering yet) or ``down``."""
        if self.pid() is None:
            return "down"
        return "up" if not self.socket or _accepts(self.socket) else "starting"


class Team:
    """The nodes of one data directory.

    Args:
        data: the data directory (one sub-directory per developer).
        config: the configuration file every node uses.
        port: the websocket port of the first developer.
    """

    def __init__(self, data: str = DEFAULT_DATA, config: str = DEFAULT_CONFIG,
                 port: int = DEFAULT_PORT) -> None:
        self.data = os.path.abspath(data)
        self.config = node_config(config, self.data)
        logins = team_members(self.data)
        cluster = ",".join(f"unix://{self.data}/{login}/evqueue.socket" for login in logins)
        self.members = [self._member(login, port + i, cluster) for i, login in enumerate(logins)]

    def _member(self, login: str, port: int, cluster: str) -> Member:
        environment = {"login": login, "port": str(port), "cluster": cluster}
        cfg = load_config(self.config, environ={**os.environ, **environment})
        return Member(login, port, environment, cfg)

    def start(self, member: Member) -> tuple[bool, str]:
        """Start one node in the background; returns (success, what happened)."""
        if member.pid() is not None:
            return True, f"{member.login} is already running (pid {member.pid()})"
        result = subprocess.run(
            [sys.executable, "-m", "evqueue", "--config", self.config, "--daemon"],
            env={**os.environ, **member.environment}, capture_output=True, text=True,
            check=False)
        if result.returncode != 0:
            return False, f"{member.login} did not start: {result.stderr.strip()}"
        return True, (f"{member.login} started: unix://{member.socket}, websocket port "
                      f"{member.port}")

    def stop(self, member: Member, timeout: float = STOP_TIMEOUT) -> tuple[bool, str]:
        """Stop one node (SIGTERM) and wait until it is gone; returns (success, message)."""
        pid = member.pid()
        if pid is None:
            return True, f"{member.login} is not running"
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as exc:
            if exc.errno != errno.ESRCH:
                return False, f"{member.login} (pid {pid}): {exc.strerror}"
        deadline = time.monotonic() + timeout
        while _locked(member.pidfile):
            if time.monotonic() > deadline:
                return False, f"{member.login} (pid {pid}) did not stop within {timeout:g} s"
            time.sleep(0.05)
        return True, f"{member.login} stopped"

    def status_line(self, member: Member) -> str:
        """``login  pid  socket  ws port  ipc key  state``, aligned."""
        pid = member.pid()
        width = max((len(m.login) for m in self.members), default=0)
        return (f"{member.login:<{width}}  pid {pid if pid is not None else '-':<7}  "
                f"unix://{member.socket}  ws {member.port}  ipc {member.ipc_key}  "
                f"{member.state()}")
