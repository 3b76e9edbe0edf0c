"""Tell the other nodes of the cluster that a definition changed, so they reload it.

Rules (protocol.md §8.1, semantics.md §5.10):
- After a definition change this node sends ``<control action="reload" module="…"
  notify="no"/>`` to every entry of ``cluster.nodes`` (comma-separated, trimmed), logged in as
  ``cluster.notify.user`` / ``cluster.notify.password``; ``notify="no"`` keeps the receiver from
  passing it on. ``cluster.notify=no`` or an empty ``cluster.nodes`` turns it off.
- A node recognises itself by the ``node`` attribute of the peer's first message (challenge or
  ``<ready>``) compared with ``cluster.node.name``, never by address. An entry found to be this
  node is not contacted again.
- :meth:`Notifier.notify` never waits and never fails: each peer has its own background worker
  and its own set of pending commands. Changes that pile up while a peer is being notified or
  is unreachable are coalesced (one reload per module; ``all`` covers every module).
- An unreachable peer, or one that refuses the login or the command, is logged once (then at
  DEBUG level) and retried with a growing delay until it accepts; a peer back in service is
  logged too. Pending notifications are dropped when the node stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from dataclasses import dataclass, field

from evqueue.cluster.peer import Peer, PeerTimeouts
from evqueue.config import Config
from evqueue.protocol import (
    ApiError,
    InvalidConnectionString,
    ProtocolError,
    parse_connection_string,
)
from evqueue.protocol.connstr import split_connection_strings

__all__ = ["Notifier", "reload_command"]

log = logging.getLogger("evqueue.cluster")

#: syslog's NOTICE (the engine's logging defines the level name).
_NOTICE = 25

#: First and largest delay (seconds) before trying an unreachable peer again.
RETRY_FIRST = 1.0
RETRY_MAX = 30.0

#: Command asking a peer to re-sync notification plugins (evQueue's SyncBinaries).
SYNC_NOTIFICATIONS = "<control action='syncnotifications' notify='no' />"

#: What a failed delivery can raise: network, protocol, or a KO answer.
_DELIVERY_ERRORS = (OSError, TimeoutError, ApiError, ProtocolError, ConnectionError)


def reload_command(module: str) -> str:
    """The command telling a peer to reload ``module`` (evQueue's exact text)."""
    return f"<control action='reload' module='{module}' notify='no' />"


_RELOAD_ALL = reload_command("all")


@dataclass
class _Link:
    """What this node owes one peer: pending commands, with the sequence number of their last
    request (a command asked for again while being delivered stays pending)."""

    connect: str
    pending: dict[str, int] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    is_self: bool = False
    failing: bool = False


@dataclass(frozen=True)
class _Credentials:
    user: str | None
    password: str | None


class Notifier:
    """Announces definition changes to the other nodes (``cluster.nodes``).

    Args:
        node: this node's ``cluster.node.name``.
        nodes: connection strings of every node (this one may be among them).
        user: ``cluster.notify.user`` (None or "" for nodes without authentication).
        password: ``cluster.notify.password``.
        timeouts: ``cluster.cnx/rcv/snd.timeout``.
        enabled: ``cluster.notify``.
        retry_first: first delay before trying an unreachable peer again.
        retry_max: largest such delay.
    """

    def __init__(self, node: str, nodes: list[str], *, user: str | None = None,
                 password: str | None = None, timeouts: PeerTimeouts | None = None,
                 enabled: bool = True, retry_first: float = RETRY_FIRST,
                 retry_max: float = RETRY_MAX) -> None:
        self.node = node
        self.enabled = enabled
        self.timeouts = timeouts or PeerTimeouts()
        self.retry_first = retry_first
        self.retry_max = retry_max
        self._credentials = _Credentials(user or None, password)
        self._sequence = itertools.count(1)
        self._closed = False
        self.links: list[_Link] = []
        for entry in nodes:
            try:
                parse_connection_string(entry)
            except InvalidConnectionString as exc:
                log.error("cluster.nodes: '%s' is ignored: %s", entry, exc)
                continue
            self.links.append(_Link(entry))

    @classmethod
    def from_config(cls, cfg: Config, **kwargs: float) -> Notifier:
        """A notifier for the node configured by ``cfg`` (``cluster.*`` keys).

        Args:
            cfg: the node's configuration.
            kwargs: ``retry_first`` / ``retry_max``.
        """
        return cls(cfg.node_name, split_connection_strings(cfg["cluster.nodes"]),
                   user=cfg["cluster.notify.user"], password=cfg["cluster.notify.password"],
                   timeouts=PeerTimeouts.from_config(cfg), enabled=cfg["cluster.notify"],
                   **kwargs)

    # --- what callers use -------------------------------------------------------------------

    def notify(self, module: str) -> None:
        """Ask every other node to reload ``module``; returns at once."""
        self.send(reload_command(module))

    def sync_notifications(self) -> None:
        """Ask every other node to re-sync its notification plugins; returns at once."""
        self.send(SYNC_NOTIFICATIONS)

    def send(self, command: str) -> None:
        """Deliver ``command`` to every other node in the background."""
        if not self.enabled or self._closed:
            return
        number = next(self._sequence)
        for link in self.links:
            if link.is_self:
                continue
            link.pending[command] = number
            link.wake.set()
            if link.task is None:
                link.task = asyncio.get_running_loop().create_task(
                    self._serve(link), name=f"cluster-notify {link.connect}")

    def pending(self) -> dict[str, list[str]]:
        """Commands not delivered yet, by peer connection string (peers with none omitted)."""
        return {link.connect: list(link.pending) for link in self.links if link.pending}

    async def aclose(self) -> None:
        """Stop every worker; undelivered notifications are dropped (and logged)."""
        self._closed = True
        tasks = [link.task for link in self.links if link.task is not None]
        for link in self.links:
            link.wake.set()  # an idle worker sees _closed and returns
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in self.links:
            if link.pending:
                log.warning("cluster: node %s may have missed %s (this node stopped)", link.connect,
                            ", ".join(link.pending))

    # --- one worker per peer ----------------------------------------------------------------

    async def _serve(self, link: _Link) -> None:
        delay = self.retry_first
        while not link.is_self and not self._closed:
            await link.wake.wait()
            link.wake.clear()
            while link.pending and not link.is_self and not self._closed:
                if await self._deliver(link):
                    delay = self.retry_first
                    continue
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
        if link.is_self:
            link.pending.clear()

    async def _deliver(self, link: _Link) -> bool:
        """Send what is pending to one peer; False when it must be tried again later."""
        covered = dict(link.pending)
        try:
            async with Peer(link.connect, user=self._credentials.user,
                            password=self._credentials.password,
                            timeouts=self.timeouts) as peer:
                if peer.node == self.node:
                    link.is_self = True
                    log.debug("cluster: %s is this node", link.connect)
                    return True
                await peer.login()
                for command in _coalesce(covered):
                    await peer.exec(command)
        except _DELIVERY_ERRORS as exc:
            self._failed(link, exc)
            return False
        for command, number in covered.items():
            if link.pending.get(command) == number:
                del link.pending[command]
        if link.failing:
            link.failing = False
            log.log(_NOTICE, "cluster: node %s (%s) notified again", peer.node, link.connect)
        return True

    def _failed(self, link: _Link, exc: BaseException) -> None:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if link.failing:
            log.debug("cluster: node %s still not notified: %s", link.connect, reason)
            return
        link.failing = True
        log.warning("cluster: cannot notify node %s (%s); retrying in the background",
                    link.connect, reason)


def _coalesce(pending: dict[str, int]) -> list[str]:
    """The commands to send for ``pending``: a reload of ``all`` stands for every reload."""
    if _RELOAD_ALL not in pending:
        return list(pending)
    return [command for command in pending
            if command == _RELOAD_ALL or not command.startswith("<control action='reload'")]
