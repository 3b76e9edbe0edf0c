"""The ``instance`` and ``instances`` command groups (protocol.md §4.1-§4.2).

Rules:
- Running instances live in the engine; terminated ones (and instances of other nodes) in the
  store. An instance still EXECUTING on another node answers WRONG_NODE naming that node.
- Rights are checked against the instance's workflow (``read``, ``exec``, ``kill``); evQueue
  checks ``tag``/``untag`` against the instance id used as a workflow id (a bug not copied).
- A synchronous launch just waits: the connection sends dead-peer pings meanwhile.
- The engine's errors (unknown workflow, bad parameters, …) carry their codes
  (:mod:`evqueue.errors`): handlers let them reach the dispatcher, which writes the reply.
- ``instances list`` reads its integer and boolean attributes as evQueue does (``stoi``:
  INVALID_INTEGER / INVALID_BOOLEAN, out of 32-bit range included), so no value the store
  cannot hold reaches it; ``limit`` and ``offset`` are evQueue's ``unsigned int`` (``-1`` is
  4294967295). An empty value is no filter, since evQueue's web UI sends empty filters.
"""

from __future__ import annotations

import datetime

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.pipelining import current_turn
from evqueue.api.session import Right, Session
from evqueue.api.table import CommandTable
from evqueue.protocol import (
    TIME_FORMAT,
    Command,
    InstanceAlreadyTagged,
    InstanceIsRunning,
    InvalidParameter,
    Response,
    TimedOut,
    UnknownInstance,
    UnknownTag,
    UnknownTagOrInstance,
    WrongNode,
)
from evqueue.storage import instance_history
from evqueue.storage import instances as instance_verbs
from evqueue.storage import tags as tag_verbs
from evqueue.storage import workflows as workflow_verbs

__all__ = ["routes"]

routes = CommandTable()


def _time(value: datetime.datetime | None) -> str:
    return value.strftime(TIME_FORMAT) if value is not None else ""


async def _workflow_id(ctx: ApiContext, instance_id: int) -> tuple[int, instance_verbs.InstanceRow
                                                                   | None]:
    """The workflow of an instance (running here, or stored), and its stored row if any."""
    engine = ctx.services.engine
    running = engine.instance(instance_id) if engine is not None else None
    if running is not None:
        return running.workflow_id, None
    row = await instance_verbs.get_instance(ctx.db, instance_id, with_savepoint=True)
    if row is None:
        raise UnknownInstance("Unknown workflow instance")
    return row.workflow_id, row


async def _check(ctx: ApiContext, session: Session, instance_id: int,
                 *rights: Right) -> instance_verbs.InstanceRow | None:
    workflow_id, row = await _workflow_id(ctx, instance_id)
    session.require(workflow_id, *rights)
    return row


@routes.command("instance", "launch", modifies=True)
async def launch(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    name = cmd.get_str("name")
    mode = cmd.get_str("mode", "asynchronous")
    if mode not in ("asynchronous", "synchronous"):
        raise InvalidParameter("mode must be 'synchronous' or 'asynchronous'")
    timeout = cmd.get_int("timeout", 0)
    if not session.user.is_admin:  # an admin may launch anything: no store read needed
        row = await workflow_verbs.get_workflow_by_name(ctx.db, name)
        if row is not None:
            session.require(row.id, "exec")
    host = cmd.get_str("host", "")
    engine = ctx.services.require_engine()
    instance_id = await engine.launch(
        name, _unique(cmd.parameters), host=host, user=cmd.get_str("user", "") if host else "",
        comment=cmd.get_str("comment", ""),
        turn=current_turn() if mode == "asynchronous" else None,
        # answered before its tasks are handed to the forker (a synchronous launch waits)
        start_later=mode == "asynchronous")
    attrs = {"workflow-instance-id": str(instance_id)}
    if mode == "synchronous":
        finished = await engine.wait(instance_id, timeout or None)
        if not finished:
            attrs["wait"] = "timedout"
    return Response.success(attrs)


def _unique(parameters: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    """Launch parameters; a repeated name keeps its first value (evQueue drops the others)."""
    seen: dict[str, str] = {}
    for name, value in parameters:
        seen.setdefault(name, value)
    return list(seen.items())


@routes.command("instance", "query")
async def query(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id = cmd.get_int("id")
    row = await _check(ctx, session, instance_id, "read")
    ctx.stats.workflow_status_queries += 1
    xml = ctx.services.require_engine().query(instance_id) if row is None else None
    if xml is None:
        assert row is not None
        if row.status == "EXECUTING" and row.node_name != ctx.node:
            raise WrongNode("Workflow instance is still running on another node, query the "
                            f"corresponding node ({row.node_name})")
        xml = row.savepoint or ""
    payload = (etree.fromstring(xml.encode()),) if xml else ()
    return Response.success(payload=payload)


@routes.command("instance", "wait")
async def wait(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id = cmd.get_int("id")
    timeout = cmd.get_int("timeout", 0)
    await _check_running(ctx, session, instance_id, "Unknown instance ID", "read")
    if not await ctx.services.require_engine().wait(instance_id, timeout or None):
        raise TimedOut()
    return Response.success()


async def _check_running(ctx: ApiContext, session: Session, instance_id: int, message: str,
                         *rights: Right) -> None:
    engine = ctx.services.engine
    running = engine.instance(instance_id) if engine is not None else None
    if running is None:
        row = await instance_verbs.get_instance(ctx.db, instance_id, with_savepoint=False)
        if row is not None and row.status == "EXECUTING" and row.node_name != ctx.node:
            session.require(row.workflow_id, *rights)
            raise WrongNode("Workflow instance is running on another node, ask the "
                            f"corresponding node ({row.node_name})")
        raise UnknownInstance(message)
    session.require(running.workflow_id, *rights)


@routes.command("instance", "cancel", modifies=True)
async def cancel(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id = cmd.get_int("id")
    await _check_running(ctx, session, instance_id, "Unknown workflow instance", "kill")
    ctx.stats.workflow_cancel_queries += 1
    ctx.services.require_engine().cancel(instance_id)
    return Response.success()


@routes.command("instance", "kill", modifies=True)
async def kill(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Cancel, then kill every running task (what evQueue's UI does in three steps)."""
    instance_id = cmd.get_int("id")
    await _check_running(ctx, session, instance_id, "Unknown workflow instance", "kill")
    ctx.services.require_engine().kill(instance_id)
    return Response.success()


@routes.command("instance", "killtask", modifies=True)
async def killtask(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id = cmd.get_int("id")
    pid = cmd.get_int("pid")
    await _check_running(ctx, session, instance_id, "Unknown workflow instance", "kill")
    ctx.services.require_engine().killtask(instance_id, pid)
    return Response.success()


@routes.command("instance", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    session.require_admin()
    instance_id = cmd.get_int("id")
    row = await instance_verbs.get_instance(ctx.db, instance_id, with_savepoint=False)
    if row is None or row.status != "TERMINATED":
        raise UnknownInstance("Instance ID not found")
    await instance_verbs.delete_instance(ctx.db, instance_id)
    return Response.success()


async def _tag_target(ctx: ApiContext, session: Session, cmd: Command) -> tuple[int, int]:
    instance_id = cmd.get_int("id")
    tag_id = cmd.get_int("tag_id")
    row = await instance_verbs.get_instance(ctx.db, instance_id, with_savepoint=False)
    if row is None:
        engine = ctx.services.engine
        if engine is not None and engine.instance(instance_id) is not None:
            raise InstanceIsRunning("Instance is still running, tag it once it is terminated")
        raise UnknownInstance("Unknown workflow instance")
    if not (session.user.can(row.workflow_id, "exec") or session.user.can(row.workflow_id,
                                                                          "edit")):
        session.require(row.workflow_id, "edit")
    if row.status != "TERMINATED":
        raise InstanceIsRunning("Instance is still running, tag it once it is terminated")
    if await tag_verbs.get_tag(ctx.db, tag_id) is None:
        raise UnknownTag(f"Unknown tag ID : {tag_id}")
    return instance_id, tag_id


@routes.command("instance", "tag", modifies=True)
async def tag(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id, tag_id = await _tag_target(ctx, session, cmd)
    if not await instance_verbs.tag_instance(ctx.db, instance_id, tag_id):
        raise InstanceAlreadyTagged("Instance is already tagged with this tag")
    return Response.success()


@routes.command("instance", "untag", modifies=True)
async def untag(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id, tag_id = await _tag_target(ctx, session, cmd)
    if not await instance_verbs.untag_instance(ctx.db, instance_id, tag_id):
        raise UnknownTagOrInstance("Instance is not tagged with this tag")
    return Response.success()


@routes.command("instance", "debugresume", modifies=True)
async def debugresume(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    instance_id = cmd.get_int("id")
    await _check(ctx, session, instance_id, "read", "exec")
    new_id = await ctx.services.require_engine().debug_resume(instance_id)
    return Response.success({"workflow-instance-id": str(new_id)})


@routes.command("instance", "migrate", modifies=True)
async def migrate(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    session.require_admin()
    instance_id = cmd.get_int("id")
    await ctx.services.require_engine().migrate(instance_id)
    return Response.success()


#: Integer attributes of ``instances list``; evQueue reads them into an ``unsigned int``.
_LIST_INTEGERS = ("filter_id", "filter_tag_id", "filter_schedule_id", "limit", "offset")
_UNSIGNED_INT = 2**32


def _list_attributes(cmd: Command) -> dict[str, str]:
    """The attributes of ``instances list`` with its numbers checked and normalized.

    Raises:
        InvalidInteger: a filter, ``limit`` or ``offset`` that ``std::stoi`` refuses.
        InvalidBoolean: a ``filter_error`` that is neither yes, no nor an integer.
    """
    attrs = dict(cmd.attrs)
    for name in _LIST_INTEGERS:
        if attrs.get(name):
            value = cmd.get_int(name)
            if name in ("limit", "offset"):
                value %= _UNSIGNED_INT  # a negative count wraps as in evQueue, never reaches SQL
            attrs[name] = str(value)
    if attrs.get("filter_error"):
        attrs["filter_error"] = "yes" if cmd.get_bool("filter_error") else "no"
    return attrs


@routes.command("instances", "list")
async def list_instances(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    readable = None
    if not session.user.is_admin:
        readable = [wid for wid, rights in session.user.rights.items() if rights.read]
    attrs = _list_attributes(cmd)
    try:
        flt = instance_history.InstanceFilter.from_attributes(attrs, cmd.parameters, readable)
    except ValueError as exc:
        raise InvalidParameter(str(exc)) from None
    if flt.groupby:
        groups, total = await instance_history.group_instances(ctx.db, flt)
        rows = [_group_element(g) for g in groups]
    else:
        summaries, total = await instance_history.list_instances(ctx.db, flt)
        rows = [_summary_element(s) for s in summaries]
    return Response.success({"rows": str(total)}, payload=rows)


def _summary_element(s: instance_history.InstanceSummary) -> etree._Element:
    element = etree.Element("workflow", {
        "id": str(s.id), "name": s.workflow_name, "node_name": s.node_name,
        "host": s.host or "", "start_time": _time(s.start), "end_time": _time(s.end),
        "errors": "" if s.errors is None else str(s.errors), "status": s.status,
        "comment": s.comment or ""})
    if s.schedule_id:
        element.set("schedule_id", str(s.schedule_id))
    tags = etree.SubElement(element, "tags")
    for tag_row in s.tags:
        etree.SubElement(tags, "tag", {"id": str(tag_row.id), "label": tag_row.label})
    return element


def _group_element(g: instance_history.InstanceGroup) -> etree._Element:
    element = etree.Element("workflow", {"name": g.workflow_name, "node_name": g.node_name,
                                         "count": str(g.count)})
    for period in ("year", "month", "day", "hour"):
        value = getattr(g, period)
        if value is not None:
            element.set(period, str(value))
    return element
