"""The ``workflow_schedule`` and ``workflow_schedules`` command groups.

Rules (protocol.md §4.4, semantics.md §5.1):

- Both groups are ADMIN only, refused before the action is read.
- ``create`` and ``edit`` require ``workflow_id``, ``node`` (a node name, ``any`` for one
  elected node, ``all`` for every node), ``schedule`` (the 6-field string, INVALID_SCHEDULE)
  and ``onfailure`` (``CONTINUE`` or ``SUSPEND``); ``user``, ``host``, ``comment`` and
  ``active`` (default yes) are optional. ``<parameter name value/>`` children must match the
  workflow's parameters exactly (INVALID_WORKFLOW_PARAMETERS); a repeated name keeps its
  first value, as evQueue does. The checks run in evQueue's order: schedule, workflow
  (``Unknown Workflow ID : N``), parameters, then the schedule's existence on ``edit``.
- An unknown id is ``Unknown WorkflowSchedule ID : N`` (UNKNOWN_OBJECT) for ``get``, and
  ``Workflow schedule not found`` (UNKNOWN_WORKFLOW_SCHEDULE) for the changes.
- Replies: ``schedule-id`` on create; ``get`` gives ``<workflow_schedule workflow_id schedule
  onfailure user host active="1|0" comment node><parameter name value/></workflow_schedule>``
  (empty user/host when unset); ``list`` gives ``<workflow_schedule id node workflow_id
  schedule onfailure [user] [host] active comment workflow_name workflow_group>`` for the
  schedules whose workflow exists, with the parameters as children when
  ``display_parameters`` is set.
- Every change reports module ``scheduler``.
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.objects import check_length, element, require_found
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.model.document import parse_xml
from evqueue.model.schedule import Schedule
from evqueue.model.workflow import WorkflowDefinition
from evqueue.protocol import Command, InvalidParameter, Response, UnknownWorkflowSchedule
from evqueue.storage import workflow_schedules as store
from evqueue.storage.workflow_schedules import WorkflowScheduleRow, WorkflowScheduleSpec
from evqueue.storage.workflows import get_workflow

__all__ = ["ONFAILURE", "routes"]

routes = CommandTable()
routes.admin_only("workflow_schedule", "workflow_schedules")

#: Values of ``onfailure``.
ONFAILURE = ("CONTINUE", "SUSPEND")

# Widths of the t_workflow_schedule columns.
_NODE_MAX, _USER_MAX, _HOST_MAX, _SCHEDULE_MAX = 32, 32, 64, 255
_NOT_FOUND = "Workflow schedule not found"


def _parameters(row: WorkflowScheduleRow) -> list[etree._Element]:
    return [element("parameter", {"name": name, "value": value})
            for name, value in row.parameters]


def _unique(parameters: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """Keep the first value of each parameter name (evQueue's ``WorkflowParameters::Add``)."""
    seen: dict[str, str] = {}
    for name, value in parameters:
        seen.setdefault(name, value)
    return tuple(seen.items())


async def _spec(ctx: ApiContext, cmd: Command) -> WorkflowScheduleSpec:
    """Read and check the fields of a create/edit request."""
    workflow_id = cmd.get_int("workflow_id")
    node = cmd.get_str("node")
    schedule = cmd.get_str("schedule")
    onfailure = cmd.get_str("onfailure")
    if onfailure not in ONFAILURE:
        raise InvalidParameter("onfailure must be 'CONTINUE' or 'SUSPEND'")
    user, host = cmd.get_str("user", ""), cmd.get_str("host", "")
    active = cmd.get_bool("active", True)
    comment = cmd.get_str("comment", "")
    if node == "":
        raise InvalidParameter("Node name cannot be empty")
    check_length(node, _NODE_MAX, "Node name is too long")
    check_length(user, _USER_MAX, "User name is too long")
    check_length(host, _HOST_MAX, "Host name is too long")
    check_length(schedule, _SCHEDULE_MAX, "Schedule is too long")
    Schedule.parse(schedule)
    workflow = require_found(await get_workflow(ctx.db, workflow_id), "Workflow", workflow_id)
    parameters = _unique(cmd.parameters)
    WorkflowDefinition(parse_xml(workflow.xml)).check_schedule_parameters(
        name for name, _ in parameters
    )
    return WorkflowScheduleSpec(
        workflow_id=workflow_id, schedule=schedule, node_name=node, onfailure=onfailure,
        user=user or None, host=host or None, active=active, comment=comment,
        parameters=parameters,
    )


@routes.command("workflow_schedule", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """One workflow schedule with its parameters."""
    schedule_id = cmd.get_int("id")
    row = require_found(await store.get_workflow_schedule(ctx.db, schedule_id),
                        "WorkflowSchedule", schedule_id)
    node = element("workflow_schedule", {
        "workflow_id": row.workflow_id, "schedule": row.schedule, "onfailure": row.onfailure,
        "user": row.user or "", "host": row.host or "", "active": int(row.active),
        "comment": row.comment, "node": row.node_name,
    }, _parameters(row))
    return Response.success(payload=[node])


@routes.command("workflow_schedule", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a workflow schedule; replies ``schedule-id``."""
    spec = await _spec(ctx, cmd)
    schedule_id = await store.create_workflow_schedule(ctx.db, spec)
    await ctx.changed("scheduler")
    return Response.success({"schedule-id": schedule_id})


@routes.command("workflow_schedule", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a workflow schedule and its parameters."""
    spec = await _spec(ctx, cmd)
    schedule_id = cmd.get_int("id")
    if not await store.update_workflow_schedule(ctx.db, schedule_id, spec):
        raise UnknownWorkflowSchedule(_NOT_FOUND)
    await ctx.changed("scheduler")
    return Response.success()


@routes.command("workflow_schedule", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a workflow schedule (its running instance, if any, carries on)."""
    schedule_id = cmd.get_int("id")
    if not await store.delete_workflow_schedule(ctx.db, schedule_id):
        raise UnknownWorkflowSchedule(_NOT_FOUND)
    await ctx.changed("scheduler")
    return Response.success()


@routes.command("workflow_schedule", "lock", "unlock", modifies=True)
async def lock(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Deactivate (``lock``) or activate (``unlock``) a workflow schedule."""
    schedule_id = cmd.get_int("id")
    active = cmd.action == "unlock"
    if not await store.set_workflow_schedule_active(ctx.db, schedule_id, active):
        raise UnknownWorkflowSchedule(_NOT_FOUND)
    await ctx.changed("scheduler")
    return Response.success()


def _list_element(row: WorkflowScheduleRow, with_parameters: bool) -> etree._Element:
    attrs: dict[str, object] = {
        "id": row.id, "node": row.node_name, "workflow_id": row.workflow_id,
        "schedule": row.schedule, "onfailure": row.onfailure,
    }
    if row.user is not None:
        attrs["user"] = row.user
    if row.host is not None:
        attrs["host"] = row.host
    attrs.update({"active": int(row.active), "comment": row.comment,
                  "workflow_name": row.workflow_name, "workflow_group": row.workflow_group})
    return element("workflow_schedule", attrs, _parameters(row) if with_parameters else ())


@routes.command("workflow_schedules", "list")
async def list_schedules(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Every workflow schedule whose workflow exists, by id."""
    display_parameters = cmd.get_bool("display_parameters", False)
    rows = await store.list_workflow_schedules(ctx.db)
    return Response.success(payload=[
        _list_element(row, display_parameters) for row in rows if row.workflow_name is not None
    ])
