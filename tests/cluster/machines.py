"""evqueue nodes on the machines of a lab (``tests/cluster/netlab.py``), configured as the
README's "On several machines" section shows.

Rules:
- A machine's node gets the README's configuration, word for word (a test checks it):
  :func:`cluster_config`, the same on every node (the shared PostgreSQL database, every
  node's ``tcp://`` address in ``cluster.nodes`` with no blank after the commas: an unquoted
  value ends at a blank, and the user that notifies changes), then :func:`node_config`, its
  own (its name, the API and the web UI on the machine's address, ports :data:`API_PORT` and
  :data:`WS_PORT`).
- A :class:`MachineNode` is a :class:`~tests.e2e.nodes.Node` (its directory, pidfile, IPC
  queue, log) whose engine runs on its machine, in a UTS namespace of its own whose host name
  is the machine's (``hostname`` in a task says where it ran), with no unix socket: every
  client, the other nodes included, reaches it over the lab's network. Extra environment
  variables (a clock offset) are given to that engine only.
- Whatever opens a socket here does it from the test's own machine (``client``), never from
  the host's network.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from pathlib import Path

from evqueue.client.sync import Client
from tests.cluster.netlab import Lab
from tests.e2e.nodes import Node

__all__ = ["API_PORT", "CLIENT", "WS_PORT", "MachineNode", "cluster_config", "node_config"]

API_PORT = 5000
WS_PORT = 5001
#: The machine the test process talks from.
CLIENT = "client"
#: Where the README's task ``hello.sh`` lives (``processmanager.tasks.directory``).
EXAMPLE_TASKS = Path(__file__).resolve().parents[2] / "examples" / "tasks"


def cluster_config(database_url: str, addresses: Iterable[str]) -> str:
    """The part of the configuration every node has (the README's example)."""
    nodes = ",".join(f"tcp://{address}:{API_PORT}" for address in addresses)
    return (f"database.url = {database_url}\n"
            f"cluster.nodes = {nodes}\n"
            f"cluster.notify.user = admin\n"
            f"cluster.notify.password = admin\n")


def node_config(name: str, address: str) -> str:
    """The part of a node's configuration that is its own (the README's example for ``n1``)."""
    return (f"cluster.node.name = {name}\n"
            f"network.bind.ip = {address}\n"
            f"network.bind.port = {API_PORT}\n"
            f"ws.bind.ip = {address}\n"
            f"ws.bind.port = {WS_PORT}\n")


class MachineNode(Node):
    """The evqueue node of ``machine`` in ``lab``.

    Args:
        directory: the node's directory (``core.wd``, logs, pidfile).
        lab: the lab.
        machine: the machine's name, also the node's name.
        database_url: the shared store.
        settings: more configuration keys (machine-local ones).
    """

    def __init__(self, directory: Path, *, lab: Lab, machine: str, database_url: str,
                 settings: Mapping[str, str] | None = None) -> None:
        super().__init__(directory, name=machine, db_url=database_url, settings={
            "network.bind.path": "", "gc.enable": "no",
            "processmanager.tasks.directory": str(EXAMPLE_TASKS), **(settings or {})})
        self.lab = lab
        self.address = lab.machines[machine]
        self.api_port, self.ws_port = API_PORT, WS_PORT
        self.url = f"tcp://{self.address}:{API_PORT}"
        self.env: dict[str, str] = {}
        local = self.config_path.read_text()
        # later lines win: the README's parts replace Node's loopback addresses
        self.config_path.write_text(local + cluster_config(database_url, lab_nodes(lab))
                                    + node_config(machine, self.address))

    def command(self, *extra: str) -> list[str]:
        """Run on the machine, in a UTS namespace named after it, with :attr:`env`."""
        env = [f"{key}={value}" for key, value in self.env.items()]
        return [*self.lab.exec_prefix(self.name), "unshare", "--uts", "sh", "-c",
                'hostname "$0" && exec "$@"', self.name, "env", *env,
                *super().command(*extra)]

    def accepts(self) -> bool:
        """True when the API accepts a TCP connection from the client machine."""
        with self.lab.inside(CLIENT), socket.socket() as sock:
            sock.settimeout(1.0)
            try:
                sock.connect((self.address, API_PORT))
            except OSError:
                return False
        return True

    def client(self, timeout: float = 30) -> Client:
        """A client logged in as admin, from the client machine."""
        with self.lab.inside(CLIENT):
            return Client(self.url, "admin", "admin", timeout=timeout).connect()


def lab_nodes(lab: Lab) -> list[str]:
    """The addresses of the lab's evqueue machines (named ``n<k>``), in name order."""
    return [address for machine, address in sorted(lab.machines.items())
            if machine.startswith("n") and machine[1:].isdigit()]
