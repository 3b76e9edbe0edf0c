"""What every API handler may use: the node's configuration, store, services and counters.

Rules:
- One ``ApiContext`` per node, built by the runner; handlers get it as their first argument.
- The running parts a handler may call are the typed fields of one :class:`Services` record
  (``ctx.services.engine``, ``.events``, …), each None while this node has no such part. The
  runner fills it as the parts start, before the listeners open, by replacing the record.
- Handlers report definition changes through ``changed(module)``; the runner connects it to the
  local reload (engine caches) and to the cluster notification of the other nodes.
- ``sessions`` holds the node's open sessions; the dispatcher checks each command against their
  users' current rights (:mod:`evqueue.api.session_registry`).
- Nothing here touches a socket.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evqueue.api.session_registry import SessionRegistry
from evqueue.config import Config
from evqueue.storage.database import Database

if TYPE_CHECKING:
    from evqueue.engine.engine import Engine
    from evqueue.engine.events import EventBus
    from evqueue.process.manager import ProcessManager
    from evqueue.services.git_store import GitRepository
    from evqueue.services.scheduler import Scheduler

__all__ = ["ApiContext", "ApiStatistics", "NotificationSync", "RELOAD_MODULES", "Services"]

#: Modules a ``<control action="reload" module=…>`` may name (elogs ones excluded).
RELOAD_MODULES = ("all", "workflows", "users", "tags", "queuepool", "notifications", "scheduler",
                  "retry_schedules", "launchers", "displays")


@dataclass
class ApiStatistics:
    """Counters of ``<statistics action="query" type="global"/>``."""

    accepted_api_connections: int = 0
    accepted_ws_connections: int = 0
    api_exceptions: int = 0
    api_queries: int = 0
    current_api_connections: int = 0
    current_ws_connections: int = 0
    statistics_queries: int = 0
    waiting_threads: int = 0
    workflow_cancel_queries: int = 0
    workflow_exceptions: int = 0
    workflow_queries: int = 0
    workflow_status_queries: int = 0
    ws_events: int = 0
    ws_queries: int = 0
    ws_subscriptions: int = 0

    def reset(self) -> None:
        """Zero every counter except the live connection counts."""
        current = (self.current_api_connections, self.current_ws_connections)
        for name in self.__dataclass_fields__:
            setattr(self, name, 0)
        self.current_api_connections, self.current_ws_connections = current


#: ``await sync(notify)``: install the notification plugins from the store again and, with
#: ``notify``, have the other nodes of the cluster do the same (``control syncnotifications``).
NotificationSync = Callable[[bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Services:
    """The running parts of this node that API handlers call; None where there is none.

    Attributes:
        engine: the workflow engine: launches, running instances, queues, retries, counters.
        events: the engine's event bus (instance, git and schedule events).
        processes: the process manager (live output of running tasks).
        scheduler: the workflow scheduler (``status type=scheduler``).
        git: the workflow repository of ``git.repository``.
        sync_notifications: re-installs the notification plugins (and tells the cluster).
    """

    engine: Engine | None = None
    events: EventBus | None = None
    processes: ProcessManager | None = None
    scheduler: Scheduler | None = None
    git: GitRepository | None = None
    sync_notifications: NotificationSync | None = None

    def require_engine(self) -> Engine:
        """The engine, for commands that only make sense where it runs.

        Raises:
            RuntimeError: no engine runs here (the runner starts it before the listeners).
        """
        if self.engine is None:
            raise RuntimeError("no engine runs on this node")
        return self.engine


async def _nothing(module: str) -> None:
    return None


@dataclass
class ApiContext:
    """The node-wide state handlers work with."""

    cfg: Config
    db: Database
    #: the running parts handlers call (engine, event bus, …); replaced as they start
    services: Services = field(default_factory=Services)
    #: the optional modules this node serves (``git``, ``storage``, ``elogs``)
    modules: tuple[str, ...] = ()
    stats: ApiStatistics = field(default_factory=ApiStatistics)
    started: float = field(default_factory=time.monotonic)
    #: called after a definition change with the reload module name ("workflows", "users", …)
    changed: Callable[[str], Awaitable[None]] = _nothing
    #: reload a module from the store on this node only (control reload, SIGHUP, cluster)
    reload: Callable[[str], Awaitable[None]] = _nothing
    #: the sessions open on this node (TCP, unix socket, websocket)
    sessions: SessionRegistry = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.sessions = SessionRegistry(self.db)

    @property
    def node(self) -> str:
        """This node's name (the ``node`` attribute of every response)."""
        return self.cfg.node_name

    def uptime(self) -> int:
        """Whole seconds since the node started."""
        return int(time.monotonic() - self.started)
