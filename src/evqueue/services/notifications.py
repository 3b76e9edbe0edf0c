"""Notifications: the plugins called when a workflow instance ends (semantics.md §5.3).

Rules:

- Which: at the end of an instance, every notification of scope WORKFLOW its workflow is
  subscribed to (``t_workflow_notification``) plus every ``subscribe_all`` notification, each
  once. The lists are cached and reloaded with the ``notifications``, ``workflows`` and
  ``all`` modules, so an instance end costs no query.
- When: exactly once per instance, when it ends; never for an instance that was resumed at
  start-up (it may have been notified already), never once the node is stopping (calls still
  waiting for a slot then are dropped; those running get their timeout to finish).
- How: ``<notifications.tasks.directory>/<type_id> <instance_id> <errors> <unix socket>``
  (the socket is ``network.bind.path``, possibly empty), in that directory, with the JSON of
  :func:`~evqueue.services.plugin_run.plugin_input` on stdin (the plugin's configuration, the
  notification's parameters, the instance XML).
- Limits: a run is killed after ``notifications.tasks.timeout`` seconds; at most
  ``notifications.tasks.concurrency`` run at once and the others wait their turn, up to
  :data:`MAX_PENDING` waiting, beyond which calls are dropped with a warning.
- A run that fails (exit status ≠ 0, killed at the timeout, or not startable) is written to
  ``t_log_notifications`` with its stderr (at most ``notifications.logs.maxsize`` bytes) and
  announced with the LOG_NOTIFICATION event.
- Plugin executables are installed from the store at start-up and on every sync (``control
  syncnotifications``, reload of ``notifications``), see :func:`sync_binaries`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from evqueue.engine.events import EventBus, EventType
from evqueue.engine.statistics import EndedInstance
from evqueue.services.plugin_run import (
    PluginCall,
    PluginResult,
    plugin_input,
    run_plugin,
    sync_binaries,
)
from evqueue.storage.database import Database
from evqueue.storage.errors import StorageError
from evqueue.storage.logs import add_notification_log
from evqueue.storage.notifications import (
    all_workflow_notifications,
    get_notification_type_conf,
    list_notifications,
)

if TYPE_CHECKING:
    from evqueue.config import Config

__all__ = ["MAX_PENDING", "NotificationSettings", "Notifications", "Target"]

log = logging.getLogger(__name__)

#: Calls waiting for a free slot beyond which new calls are dropped.
MAX_PENDING = 1000


@dataclass(frozen=True)
class NotificationSettings:
    """What the notifier reads from the configuration."""

    node_name: str = "localhost"
    directory: str = "/tmp"
    timeout: float = 5.0
    concurrency: int = 16
    max_output: int = 16 * 1024
    socket_path: str = ""

    @classmethod
    def from_config(cls, cfg: Config) -> NotificationSettings:
        """The ``notifications.*`` keys, the node name and the API unix socket."""
        return cls(
            node_name=cfg.node_name,
            directory=cfg.path("notifications.tasks.directory"),
            timeout=float(cfg["notifications.tasks.timeout"]),
            concurrency=max(1, int(cfg["notifications.tasks.concurrency"])),
            max_output=int(cfg["notifications.logs.maxsize"]),
            socket_path=cfg.path("network.bind.path"),
        )


@dataclass(frozen=True)
class Target:
    """A notification ready to be called: its plugin and both configurations."""

    id: int
    name: str
    type_id: int
    plugin_conf: bytes
    parameters: str


class Notifications:
    """Calls the notifications of every instance that ends on this node.

    Args:
        db: the store (definitions, and the log of failed runs).
        settings: the ``notifications.*`` configuration.
        events: where LOG_NOTIFICATION is published.
        skip: instance ids never to notify (those resumed at start-up).
    """

    def __init__(self, db: Database, settings: NotificationSettings,
                 events: EventBus | None = None, skip: set[int] | None = None) -> None:
        self.db = db
        self.settings = settings
        self.events = events
        self._skip = set(skip or ())
        self._by_workflow: dict[int, list[int]] = {}
        self._everyone: list[int] = []
        self._targets: dict[int, Target] = {}
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._runs: set[asyncio.Task[None]] = set()
        self._stopped = False

    async def sync(self) -> list[int]:
        """Install the plugin executables from the store; returns the type ids written."""
        os.makedirs(self.settings.directory, exist_ok=True)
        return await sync_binaries(self.db, self.settings.directory)

    async def reload(self) -> None:
        """Reload notifications, plugin configurations and subscriptions from the store."""
        rows = [r for r in await list_notifications(self.db) if r.scope in (None, "WORKFLOW")]
        confs: dict[int, bytes] = {}
        for type_id in {r.type_id for r in rows}:
            confs[type_id] = await get_notification_type_conf(self.db, type_id) or b""
        self._targets = {r.id: Target(r.id, r.name, r.type_id, confs[r.type_id], r.parameters)
                         for r in rows}
        self._everyone = [r.id for r in rows if r.subscribe_all]
        self._by_workflow = await all_workflow_notifications(self.db)

    def targets_for(self, workflow_id: int) -> list[Target]:
        """The notifications an instance of ``workflow_id`` calls, by id."""
        ids = set(self._by_workflow.get(workflow_id, ())) | set(self._everyone)
        return [self._targets[i] for i in sorted(ids) if i in self._targets]

    @property
    def running(self) -> int:
        """Calls started or waiting for a slot."""
        return len(self._runs)

    def instance_ended(self, ended: EndedInstance) -> None:
        """Engine end listener: start the calls for this instance."""
        if ended.instance_id in self._skip:
            self._skip.discard(ended.instance_id)
            return
        if self._stopped:
            return
        for target in self.targets_for(ended.workflow_id):
            if len(self._runs) >= MAX_PENDING:
                log.warning("[WID %d] too many notifications waiting, '%s' dropped",
                            ended.instance_id, target.name)
                continue
            task = asyncio.get_running_loop().create_task(self._call(target, ended))
            self._runs.add(task)
            task.add_done_callback(self._runs.discard)

    async def idle(self) -> None:
        """Wait until every call made so far has ended (and its failure is logged)."""
        while self._runs:
            await asyncio.gather(*list(self._runs), return_exceptions=True)

    async def stop(self) -> None:
        """Call nothing more, drop the calls still waiting for a slot, and wait for those in
        progress (each is bounded by the timeout)."""
        self._stopped = True
        await self.idle()

    async def _call(self, target: Target, ended: EndedInstance) -> None:
        settings = self.settings
        call = PluginCall(
            path=os.path.join(settings.directory, str(target.type_id)),
            arguments=(str(ended.instance_id), str(ended.errors), settings.socket_path),
            stdin=plugin_input(target.plugin_conf, target.parameters, ended.xml),
            cwd=settings.directory, timeout=settings.timeout, max_stderr=settings.max_output,
        )
        async with self._slots:
            if self._stopped:
                return  # still waiting for a slot when the node began to stop
            try:
                result = await run_plugin(call)
            except OSError as exc:
                log.warning("[WID %d] unable to execute notification task '%s' : %s",
                            ended.instance_id, target.name, exc)
                await self._record(0, f"{target.name}: cannot execute {call.path}: {exc}")
                return
        if not result.ok:
            log.warning("[WID %d] notification '%s' %s", ended.instance_id, target.name,
                        _outcome(result, settings.timeout))
            await self._record(result.pid, _log_message(target, result, settings))

    async def _record(self, pid: int, message: str) -> None:
        try:
            await add_notification_log(self.db, self.settings.node_name, pid, message)
        except StorageError as exc:
            log.error("cannot store notification log: %s", exc)
            return
        if self.events is not None:
            self.events.emit(EventType.LOG_NOTIFICATION)


def _outcome(result: PluginResult, timeout: float) -> str:
    if result.timed_out:
        return f"killed after the {timeout:g} s timeout"
    return f"exited with status {result.returncode}"


def _log_message(target: Target, result: PluginResult, settings: NotificationSettings) -> str:
    """What ``t_log_notifications`` keeps of a failed run: what happened, then stderr."""
    text = f"{target.name}: {_outcome(result, settings.timeout)}"
    if result.stderr:
        text = f"{text}\n{result.stderr}"
    return text[:settings.max_output]
