"""Every API module a node serves, as one list.

Rules:
- :data:`API_MODULES` names every module holding a ``routes`` command table, explicitly: a module
  missing from the tree is an import error at start-up, never a silently smaller API.
- :func:`all_tables` is what the runner hands to the
  :class:`~evqueue.api.dispatch.Dispatcher`.
"""

from __future__ import annotations

from types import ModuleType

from evqueue.api import (
    cluster,
    datastore,
    engine_status,
    filesystem,
    instance,
    logs,
    notification,
    queue,
    retry_schedule,
    storage_module,
    tag,
    tools,
    user,
    workflow,
    workflow_schedule,
)
from evqueue.api.table import CommandTable

__all__ = ["API_MODULES", "all_tables"]

#: The API modules served by every node (keep in sync with the files of this package).
API_MODULES: tuple[ModuleType, ...] = (
    tools,
    logs,
    datastore,
    filesystem,
    workflow,
    queue,
    retry_schedule,
    workflow_schedule,
    user,
    tag,
    notification,
    storage_module,
    instance,
    engine_status,
    cluster,
)


def all_tables() -> list[CommandTable]:
    """The command tables of every API module."""
    return [module.routes for module in API_MODULES]
