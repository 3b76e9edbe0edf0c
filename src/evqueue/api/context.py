"""What every API handler may use: the node's configuration, store, engine and counters.

Rules:
- One ``ApiContext`` per node, built by the runner; handlers get it as their first argument.
- Handlers report definition changes through ``changed(module)``; the runner connects it to the
  local reload (engine caches) and to the cluster notification of the other nodes.
- Nothing here touches a socket.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from evqueue.config import Config
from evqueue.storage.database import Database

__all__ = ["ApiContext", "ApiStatistics", "RELOAD_MODULES"]

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


async def _nothing(module: str) -> None:
    return None


@dataclass
class ApiContext:
    """The node-wide state handlers work with."""

    cfg: Config
    db: Database
    engine: Any = None  # evqueue.engine.Engine once the engine runs on this node
    stats: ApiStatistics = field(default_factory=ApiStatistics)
    started: float = field(default_factory=time.monotonic)
    #: called after a definition change with the reload module name ("workflows", "users", …)
    changed: Callable[[str], Awaitable[None]] = _nothing
    #: reload a module from the store on this node only (control reload, SIGHUP, cluster)
    reload: Callable[[str], Awaitable[None]] = _nothing
    #: extra, for later parts (events bus, cluster, git…), by name
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def node(self) -> str:
        """This node's name (the ``node`` attribute of every response)."""
        return self.cfg.node_name

    def uptime(self) -> int:
        """Whole seconds since the node started."""
        return int(time.monotonic() - self.started)
