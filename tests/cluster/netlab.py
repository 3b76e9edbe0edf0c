"""Machines on one Linux host: network namespaces joined by a bridge, with links to cut.

Rules:
- A :class:`Lab` owns every namespace it creates, all named ``evq<pid>-<machine>`` (the pid
  of the test process, so that runs in parallel never meet). The switch is a bridge ``br0``
  in a namespace of its own (``evq<pid>-lan``); each machine is a namespace whose ``eth0``
  (one end of a veth pair) has one address of :data:`SUBNET`, and whose other end is a port
  of the bridge named after the machine. The addresses exist only inside these namespaces:
  no traffic leaves them, and nothing on the host can reach them.
- :meth:`Lab.cut` pulls a machine's cable (its bridge port goes down): its packets are
  dropped silently, as on a real network, until :meth:`Lab.mend`. :meth:`Lab.block` drops
  a machine's traffic to and from one address only (an nftables table in the machine's
  namespace), until :meth:`Lab.unblock`.
- :meth:`Lab.inside` moves the calling thread into a machine's namespace (``setns``): the
  sockets it opens, the threads and the processes it starts from there, belong to that
  machine. The test process talks to the cluster from its own machine this way.
- :meth:`Lab.destroy` kills what still runs in the namespaces (processes the test started:
  tasks outlive their node) and deletes them. The namespaces of a test process that died
  (killed before its teardown) are emptied and deleted the same way by the next lab.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

__all__ = ["NETNS_DIR", "SUBNET", "Lab", "LabError", "can_build_labs"]

#: The private range of every lab (it exists only inside the lab's namespaces).
SUBNET = "10.213.0.0/24"
NETNS_DIR = Path("/var/run/netns")

_CLONE_NEWNET = 0x40000000
_LAB_NAME = re.compile(r"^evq(\d+)-[a-z0-9]+$")
_libc = ctypes.CDLL(None, use_errno=True)


class LabError(RuntimeError):
    """A command building or changing the lab failed."""


def can_build_labs() -> str:
    """Why this process cannot build a lab ("" when it can): it must be root."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs the suite as root)"
    return ""


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"setns: {os.strerror(error)}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lab:
    """A switch and the machines plugged into it (namespaces named after this process)."""

    def __init__(self) -> None:
        self.prefix = f"evq{os.getpid()}-"
        self.lan = self.namespace("lan")
        self.machines: dict[str, str] = {}  # machine -> address
        self._blocked: set[str] = set()
        _remove_stale_labs()
        self._ip("netns", "add", self.lan)
        self._ip("-n", self.lan, "link", "set", "lo", "up")
        self._ip("-n", self.lan, "link", "add", "br0", "type", "bridge")
        self._ip("-n", self.lan, "link", "set", "br0", "up")

    def namespace(self, machine: str) -> str:
        """The namespace of ``machine``."""
        return f"{self.prefix}{machine}"

    def add_machine(self, machine: str, address: str) -> str:
        """A machine with ``address`` (in :data:`SUBNET`) plugged into the switch; returns its
        namespace."""
        ns = self.namespace(machine)
        self._ip("netns", "add", ns)
        self.machines[machine] = address
        self._ip("-n", ns, "link", "set", "lo", "up")
        self._ip("-n", self.lan, "link", "add", machine, "type", "veth", "peer", "name", "eth0",
                 "netns", ns)
        self._ip("-n", self.lan, "link", "set", machine, "master", "br0")
        self._ip("-n", self.lan, "link", "set", machine, "up")
        self._ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        self._ip("-n", ns, "link", "set", "eth0", "up")
        return ns

    def exec_prefix(self, machine: str) -> list[str]:
        """The command prefix that runs a program on ``machine``."""
        return ["ip", "netns", "exec", self.namespace(machine)]

    def run(self, machine: str, *command: str, user: str | None = None,
            cwd: str | os.PathLike[str] | None = None, timeout: float = 60) -> str:
        """Run a program on ``machine`` (as ``user`` when given); returns its output.

        Raises:
            LabError: it failed.
        """
        prefix = self.exec_prefix(machine)
        if user is not None:
            prefix += ["runuser", "-u", user, "--"]
        return _run([*prefix, *command], cwd=cwd, timeout=timeout)

    def cut(self, machine: str) -> None:
        """Pull the machine's cable: nothing goes in or out until :meth:`mend`."""
        self._ip("-n", self.lan, "link", "set", machine, "down")

    def mend(self, machine: str) -> None:
        """Plug the machine's cable back."""
        self._ip("-n", self.lan, "link", "set", machine, "up")

    def block(self, machine: str, address: str) -> None:
        """Drop every packet between ``machine`` and ``address`` (nftables, both ways)."""
        rules = (f"table inet evq_block {{\n"
                 f"  chain out {{ type filter hook output priority 0; ip daddr {address} drop; }}\n"
                 f"  chain in {{ type filter hook input priority 0; ip saddr {address} drop; }}\n"
                 f"}}\n")
        _run([*self.exec_prefix(machine), "nft", "-f", "-"], stdin=rules)
        self._blocked.add(machine)

    def unblock(self, machine: str) -> None:
        """Remove what :meth:`block` set on ``machine``."""
        _run([*self.exec_prefix(machine), "nft", "delete", "table", "inet", "evq_block"])
        self._blocked.discard(machine)

    @contextlib.contextmanager
    def inside(self, machine: str) -> Iterator[None]:
        """Move the calling thread into ``machine``'s namespace for the ``with`` block."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            target = os.open(NETNS_DIR / self.namespace(machine), os.O_RDONLY)
            try:
                _setns(target)
            finally:
                os.close(target)
            try:
                yield
            finally:
                _setns(home)
        finally:
            os.close(home)

    def destroy(self) -> None:
        """Kill what runs in the lab's namespaces and delete them."""
        for ns in [self.namespace(m) for m in self.machines] + [self.lan]:
            _delete_namespace(ns)
        self.machines.clear()

    def _ip(self, *args: str) -> None:
        _run(["ip", *args])


def _run(command: list[str], *, stdin: str | None = None,
         cwd: str | os.PathLike[str] | None = None, timeout: float = 60) -> str:
    done = subprocess.run(command, input=stdin, capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
    if done.returncode != 0:
        raise LabError(f"{' '.join(command)} exited {done.returncode}: "
                       f"{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _namespace_pids(ns: str) -> list[int]:
    done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(word) for word in done.stdout.split() if word.isdigit()]


def _delete_namespace(ns: str) -> None:
    """Kill what runs in ``ns`` (programs a lab started), then delete it."""
    if not (NETNS_DIR / ns).exists():
        return
    for pid in _namespace_pids(ns):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def _remove_stale_labs() -> None:
    """Empty and delete the namespaces of labs whose test process is gone."""
    if not NETNS_DIR.is_dir():
        return
    for entry in NETNS_DIR.iterdir():
        match = _LAB_NAME.match(entry.name)
        if match and not _pid_alive(int(match.group(1))):
            _delete_namespace(entry.name)
