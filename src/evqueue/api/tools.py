"""Node-level commands: ``ping``, ``status``, ``statistics``, ``control`` and ``xpath``.

Rules (protocol.md §3.3, §4.3, §4.5):

- ``<ping/>`` needs no right and no action: ``git-support``, ``uptime`` (seconds since the node
  started) and ``version``. ``git-support`` is ``enabled`` when this node serves the git
  commands (evQueue always says ``disabled``, a build quirk).
- ``<status action="query" type=…/>``: ``configuration`` (admin) lists every key, sorted, with
  passwords masked; ``workflows`` and ``scheduler`` are answered by
  :mod:`evqueue.api.engine_status` and :mod:`evqueue.api.scheduler_status` where the engine
  and the scheduler run (UNKNOWN_TYPE "Unknown type" elsewhere, as any other type).
- ``<statistics action="query" type="global"/>`` reports the API counters and, when the engine
  runs, its counters; ``action="reset"`` (admin) zeroes them. ``type="queue"`` comes from
  :mod:`evqueue.api.engine_status`.
- ``<control …/>`` is admin only (checked before the action): ``reload`` validates the module
  (INVALID_MODULE "Invalid module : X"), reloads it on this node and, with ``notify=yes`` (the
  default), reports the change (cluster notification); ``retry`` runs pending retries now;
  ``syncnotifications`` calls ``ctx.services.sync_notifications(notify)`` when present;
  ``shutdown`` sends SIGTERM to the node itself and answers OK.
- ``<xpath action="parse" expression=…/>`` answers OK, with ``parse-error`` when the expression
  does not parse.
- ``<quit/>`` is not here: the connection handles it (no response at all).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import fields

from lxml import etree

from evqueue import EVQUEUE_VERSION
from evqueue.api.context import RELOAD_MODULES, ApiContext
from evqueue.api.dispatch import ANY_ACTION
from evqueue.api.engine_status import statistics_queue, status_workflows
from evqueue.api.scheduler_status import status_scheduler
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import Command, InvalidModule, Response, UnknownType

__all__ = [
    "TypeHandler",
    "global_statistics",
    "routes",
]

#: syslog's NOTICE, between INFO and WARNING (the engine's logging defines the level name).
_NOTICE = 25

log = logging.getLogger("evqueue.api.tools")

#: A handler of one ``type`` of status or statistics query.
TypeHandler = Callable[[ApiContext, Session, Command], Awaitable[Response]]

# Counters the engine keeps; reported as 0 while no engine runs on the node.
_ENGINE_COUNTERS = ("workflow_instance_launched", "workflow_instance_executing",
                    "workflow_instance_errors")

routes = CommandTable()
routes.admin_only("control")


# --- ping -------------------------------------------------------------------------------------


@routes.command("ping", ANY_ACTION)
async def ping(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<ping/>``: version, uptime and git support."""
    git = "enabled" if "git" in ctx.modules else "disabled"
    return Response.success({"git-support": git, "uptime": ctx.uptime(),
                             "version": EVQUEUE_VERSION})


# --- status -----------------------------------------------------------------------------------


async def _status_configuration(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    session.require_admin()
    ctx.stats.statistics_queries += 1
    configuration = etree.Element("configuration")
    for name, value in ctx.cfg.masked().items():
        etree.SubElement(configuration, "entry", name=name, value=value)
    return Response.success(payload=[configuration])


_STATUS: dict[str, TypeHandler] = {
    "configuration": _status_configuration,
    "workflows": status_workflows,
    "scheduler": status_scheduler,
}

#: Query types of ``statistics`` other than ``global``.
_STATISTICS: dict[str, TypeHandler] = {"queue": statistics_queue}


@routes.command("status", "query")
async def status_query(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<status action="query" type=…/>``."""
    kind = cmd.get_str("type")
    handler = _STATUS.get(kind)
    if handler is None:
        raise UnknownType()
    return await handler(ctx, session, cmd)


# --- statistics -------------------------------------------------------------------------------


def global_statistics(ctx: ApiContext) -> dict[str, int]:
    """Every counter of ``statistics type="global"``, by attribute name."""
    values = {f.name: int(getattr(ctx.stats, f.name)) for f in fields(ctx.stats)}
    values.update(dict.fromkeys(_ENGINE_COUNTERS, 0))
    engine = ctx.services.engine
    if engine is not None:
        # The engine counts what happens to instances; its figures replace the API's zeros.
        values.update({f.name: int(getattr(engine.stats, f.name))
                       for f in fields(engine.stats)})
    return values


@routes.command("statistics", "query")
async def statistics_query(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<statistics action="query" type="global|…"/>``."""
    kind = cmd.get_str("type")
    if kind == "global":
        ctx.stats.statistics_queries += 1
        element = etree.Element("statistics")
        for name, value in global_statistics(ctx).items():
            element.set(name, str(value))
        return Response.success(payload=[element])
    handler = _STATISTICS.get(kind)
    if handler is None:
        raise UnknownType("Unknown statistics type")
    return await handler(ctx, session, cmd)


@routes.command("statistics", "reset")
async def statistics_reset(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<statistics action="reset" type="global"/>`` (admin)."""
    session.require_admin()
    if cmd.get_str("type") != "global":
        raise UnknownType("Unknown statistics type for this action")
    ctx.stats.reset()
    if ctx.services.engine is not None:
        ctx.services.engine.stats.reset()
    return Response.success()


# --- control (admin) --------------------------------------------------------------------------


@routes.command("control", "reload")
async def control_reload(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<control action="reload" [module="all"] [notify="yes"]/>``."""
    module = cmd.get_str("module", "all")
    notify = cmd.get_bool("notify", True)
    if module not in RELOAD_MODULES:
        raise InvalidModule(f"Invalid module : {module}")
    log.log(_NOTICE, "reloading module %s%s", module, "" if notify else " (cluster notification)")
    # ctx.changed reloads this node, then tells the others; without notify, this node only.
    await (ctx.changed if notify else ctx.reload)(module)
    return Response.success()


@routes.command("control", "retry")
async def control_retry(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<control action="retry"/>``: pending task retries run now."""
    log.log(_NOTICE, "flushing retrier")
    if ctx.services.engine is not None:
        ctx.services.engine.flush_retries()
    return Response.success()


@routes.command("control", "syncnotifications")
async def control_sync_notifications(ctx: ApiContext, session: Session,
                                     cmd: Command) -> Response:
    """``<control action="syncnotifications" [notify="yes"]/>``."""
    notify = cmd.get_bool("notify", True)
    sync = ctx.services.sync_notifications
    if sync is not None:
        await sync(notify)
    return Response.success()


@routes.command("control", "shutdown")
async def control_shutdown(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<control action="shutdown"/>``: the node stops as on SIGTERM, after answering."""
    log.log(_NOTICE, "shutdown requested through the API by '%s'", session.user.login)
    os.kill(os.getpid(), signal.SIGTERM)
    return Response.success()


# --- xpath ------------------------------------------------------------------------------------


@routes.command("xpath", "parse")
async def xpath_parse(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<xpath action="parse" expression=…/>``: OK, with ``parse-error`` if it does not parse."""
    expression = cmd.get_str("expression")
    # Imported on first use: the XPath engine is large and most nodes never parse here.
    from evqueue.model.xpath import check

    error = check(expression)
    return Response.success({"parse-error": error} if error is not None else {})
