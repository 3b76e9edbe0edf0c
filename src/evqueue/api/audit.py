"""The API audit log: one ``t_log_api`` row per successful change made through the API.

Rules (evQueue's ``LoggerAPI``):

- :func:`record_change` is a change hook of the :class:`~evqueue.api.dispatch.Dispatcher`: it runs
  after a command of a route declared ``modifies=True`` succeeded, and only when
  ``loggerapi.enable`` is set.
- A row holds the node, the user (0 for the anonymous user of a node without authentication),
  the object's type and id, and the command's group and action. Object types are evQueue's
  (``Workflow``, ``WorkflowSchedule``, ``RetrySchedule``, ``User``, ``Tag``, ``Queue``,
  ``Channel``, ``ChannelGroup``, ``Alert``); changes to groups of other objects are not audited,
  as in evQueue.
- The object id is the ``…-id`` attribute of the response (creations), else the command's ``id``,
  else the id of the object the command named by ``name`` (workflows and users), else 0.
- Each row written publishes LOG_API (object 0) on this node's event bus, as evQueue does, so
  the API log page refreshes.
"""

from __future__ import annotations

import logging

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import Route
from evqueue.engine.events import EventType
from evqueue.protocol import Command, Response, parse_cxx_int
from evqueue.storage import logs, users, workflows

__all__ = ["OBJECT_TYPES", "object_id", "record_change"]

log = logging.getLogger("evqueue.api.audit")

#: Command group → the object type recorded in ``t_log_api``.
OBJECT_TYPES = {
    "workflow": "Workflow",
    "workflow_schedule": "WorkflowSchedule",
    "retry_schedule": "RetrySchedule",
    "user": "User",
    "tag": "Tag",
    "queue": "Queue",
    "channel": "Channel",
    "channel_group": "ChannelGroup",
    "alert": "Alert",
}

_RESPONSE_IDS = ("workflow-id", "schedule-id", "retry-schedule-id", "user-id", "tag-id",
                 "queue-id", "channel-id", "channelgroup-id", "alert-id")


async def object_id(ctx: ApiContext, cmd: Command, response: Response) -> int:
    """The id of the object a successful command changed (0 when it cannot be told)."""
    for name in _RESPONSE_IDS:
        if name in response.attrs:
            return parse_cxx_int(response.attrs[name]) or 0
    if "id" in cmd.attrs:
        return parse_cxx_int(cmd.attrs["id"]) or 0
    name = cmd.attrs.get("name")
    if name is not None and cmd.group == "workflow":
        row = await workflows.get_workflow_by_name(ctx.db, name)
        return row.id if row else 0
    if name is not None and cmd.group == "user":
        user = await users.get_user_by_login(ctx.db, name)
        return user.id if user else 0
    return 0


async def record_change(ctx: ApiContext, session: Session, cmd: Command, route: Route,
                        response: Response) -> None:
    """Write the audit row of a successful modifying command (change hook)."""
    object_type = OBJECT_TYPES.get(cmd.group)
    if not ctx.cfg["loggerapi.enable"] or object_type is None:
        return
    await logs.add_api_log(
        ctx.db, ctx.node, session.user.id or 0, await object_id(ctx, cmd, response),
        object_type, cmd.group, cmd.action or "",
    )
    if ctx.services.events is not None:
        ctx.services.events.emit(EventType.LOG_API)
