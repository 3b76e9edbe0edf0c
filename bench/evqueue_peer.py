"""An evQueue peer to compare with: another engine (evQueue in C++, or another evqueue) given
by its connection string, on which B1, B2 and B5 run the same workloads.

Rules:
- The peer is named by ``--peer`` (``unix:///path/to/sock`` or ``tcp://host:port``) or the
  environment variable ``EVQUEUE_BENCH_PEER``; the login is ``admin``/``admin`` unless
  ``--peer-user``/``--peer-password`` (or ``EVQUEUE_BENCH_PEER_USER``/``_PASSWORD``) say
  otherwise; a peer without authentication is not sent a login.
- The peer keeps its own store and settings; what the benchmarks need on it is created
  through its API when missing, under names of their own (``evqbench_*``), and never
  deleted or changed when present: a queue per concurrency and the one-task and chain
  workflows.
- Only what the API shows is measured on a peer: rates and round trips, not CPU (its
  processes may be on another machine).
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

from common import ApiHelpers, Wire

from evqueue.protocol.connstr import Address, TcpAddress, parse_connection_string

__all__ = ["Peer", "PeerNode", "add_peer_arguments", "peer_from_arguments"]

PREFIX = "evqbench_"
_NAME = re.compile(rb'\bname="([^"]*)"')


@dataclass(frozen=True)
class Peer:
    """Where the peer listens and who logs in."""

    address: Address
    user: str = "admin"
    password: str = "admin"

    @property
    def transport(self) -> str:
        """``tcp`` or ``unix``: the evqueue figure a peer figure is compared with."""
        return "tcp" if isinstance(self.address, TcpAddress) else "unix"

    def connect(self) -> Wire:
        """A new logged-in connection."""
        return Wire(self.address, user=self.user, password=self.password)

    def __str__(self) -> str:
        return str(self.address)


class PeerNode(ApiHelpers):
    """The peer as the benchmarks use a node: an admin connection, helpers that create what
    is missing."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.wire = peer.connect()

    def connect(self) -> Wire:
        """A new connection to the peer."""
        return self.peer.connect()

    def _names(self, request: bytes) -> set[str]:
        return {name.decode() for name in _NAME.findall(self.wire.call(request))}

    def ensure_queue(self, concurrency: int) -> str:
        """The name of the peer's fifo queue of ``concurrency``, created if missing."""
        name = f"{PREFIX}q{concurrency}"
        if name not in self._names(b"<queuepool action='list'/>"):
            self.queue(name, concurrency)
        return name

    def ensure_workflow(self, name: str, xml: str) -> str:
        """``PREFIX + name``, the peer's workflow of that name, created from ``xml`` if
        missing; returns its full name."""
        full = PREFIX + name
        if full not in self._names(b"<workflows action='list'/>"):
            self.workflow(full, xml)
        return full

    def close(self) -> None:
        """Log out."""
        self.wire.close()


def add_peer_arguments(parser: argparse.ArgumentParser) -> None:
    """``--peer``, ``--peer-user``, ``--peer-password`` (defaults from the environment)."""
    parser.add_argument("--peer", default=os.environ.get("EVQUEUE_BENCH_PEER", ""),
                        help="an evQueue to compare with: unix:///path or tcp://host:port "
                             "(default: $EVQUEUE_BENCH_PEER)")
    parser.add_argument("--peer-user",
                        default=os.environ.get("EVQUEUE_BENCH_PEER_USER", "admin"))
    parser.add_argument("--peer-password",
                        default=os.environ.get("EVQUEUE_BENCH_PEER_PASSWORD", "admin"))


def peer_from_arguments(args: argparse.Namespace) -> Peer | None:
    """The peer the arguments name, or None."""
    if not args.peer:
        return None
    return Peer(parse_connection_string(args.peer), args.peer_user, args.peer_password)
