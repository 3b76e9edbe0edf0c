"""The ``workflow`` and ``workflows`` command groups: workflow definitions.

Rules (protocol.md §4.4, semantics.md §1.1–§1.3):

- A workflow is named by ``id``, else by ``name`` (``Missing 'id' or 'name' attribute``,
  ``Unknown Workflow name : X`` with evQueue's code UKNOWN_OBJECT). An unknown id is
  ``Unknown Workflow ID : N`` (UNKNOWN_OBJECT), found after the rights check, as in evQueue.
- Rights: ``create`` and ``delete`` need ADMIN; ``get`` and ``list_notifications`` need
  ``read``; ``edit``, ``subscribe_notification``, ``unsubscribe_notification`` and
  ``clear_notifications`` need ``edit``. ``workflows list`` shows only what the user may read.
- ``content`` is the base64 of the definition. It is checked by
  :class:`~evqueue.model.workflow.WorkflowDefinition`: XML, evQueue's readable checks, the
  grammar, unique parameters and XPath syntax. The queues and retry schedules it names need
  not exist yet (as in evQueue; they are looked up at launch and run time). The checked
  document is stored (without XML declaration).
- Names are unique: WORKFLOW_ALREADY_EXISTS ``Workflow name already exists`` on create and on
  a rename onto another workflow's name.
- Every change reports module ``workflows``; a delete also reports ``scheduler`` and
  ``users`` (the workflow's schedules and rights go with it).
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.objects import (
    check_length,
    element,
    id_or_name,
    parse_stored,
    require_found,
    sorted_by,
)
from evqueue.api.session import Right, Session
from evqueue.api.table import CommandTable
from evqueue.model.workflow import WorkflowDefinition, validate_name
from evqueue.model.xpath import check as check_xpath
from evqueue.protocol import (
    Command,
    Response,
    UnknownNotification,
    UnknownWorkflow,
    WorkflowAlreadyExists,
)
from evqueue.storage import DuplicateName
from evqueue.storage import notifications as notification_store
from evqueue.storage import workflows as store
from evqueue.storage.workflows import WorkflowRow

__all__ = ["GROUP_MAX_LENGTH", "routes", "workflow_element"]

routes = CommandTable()

#: Width of ``t_workflow.workflow_group``.
GROUP_MAX_LENGTH = 64

_ALREADY_EXISTS = "Workflow name already exists"


def workflow_element(row: WorkflowRow, *, full: bool) -> etree._Element:
    """The ``<workflow id name group comment lastcommit/>`` of ``workflows list``.

    With ``full``, the element is the stored definition root with these attributes added.
    """
    node = parse_stored(row.xml, "workflow") if full else element("workflow")
    for name, value in (("id", row.id), ("name", row.name), ("group", row.group),
                        ("comment", row.comment), ("lastcommit", row.lastcommit or "")):
        node.set(name, str(value))
    return node


async def _workflow_id(ctx: ApiContext, cmd: Command) -> int:
    async def by_name(name: str) -> int | None:
        row = await store.get_workflow_by_name(ctx.db, name)
        # Exact match: MariaDB's default collation would also find other cases.
        return row.id if row is not None and row.name == name else None

    return await id_or_name(cmd, "Workflow", by_name)


async def _authorized(ctx: ApiContext, session: Session, cmd: Command, right: Right) -> WorkflowRow:
    """The workflow named by the request, once the user is known to hold ``right`` on it."""
    workflow_id = await _workflow_id(ctx, cmd)
    session.require(workflow_id, right)
    return require_found(await store.get_workflow(ctx.db, workflow_id), "Workflow", workflow_id)


def _checked_definition(name: str, content: str, group: str) -> str:
    """Check the fields of a create/edit request; returns the XML to store."""
    validate_name(name)
    check_length(group, GROUP_MAX_LENGTH, "Workflow group is too long")
    definition = WorkflowDefinition.from_base64(content, check_xpath=check_xpath)
    return definition.to_xml()


@routes.command("workflow", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<workflow id name group comment><workflow>…definition…</workflow></workflow>``."""
    row = await _authorized(ctx, session, cmd, "read")
    node = element("workflow", {"id": row.id, "name": row.name, "group": row.group,
                                "comment": row.comment})
    node.append(parse_stored(row.xml, "workflow"))
    return Response.success(payload=[node])


@routes.command("workflow", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a workflow (ADMIN); replies ``workflow-id``."""
    session.require_admin()
    name, content = cmd.get_str("name"), cmd.get_str("content")
    group, comment = cmd.get_str("group", ""), cmd.get_str("comment", "")
    xml = _checked_definition(name, content, group)
    if await store.get_workflow_by_name(ctx.db, name) is not None:
        raise WorkflowAlreadyExists(_ALREADY_EXISTS)
    try:
        workflow_id = await store.create_workflow(ctx.db, name, xml, group, comment)
    except DuplicateName:  # created meanwhile by another connection or node
        raise WorkflowAlreadyExists(_ALREADY_EXISTS) from None
    await ctx.changed("workflows")
    return Response.success({"workflow-id": workflow_id})


@routes.command("workflow", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a workflow's name, definition, group and comment (``edit`` right)."""
    name, content = cmd.get_str("name"), cmd.get_str("content")
    group, comment = cmd.get_str("group", ""), cmd.get_str("comment", "")
    workflow_id = await _workflow_id(ctx, cmd)
    session.require(workflow_id, "edit")
    xml = _checked_definition(name, content, group)
    if await store.get_workflow(ctx.db, workflow_id) is None:
        raise UnknownWorkflow("Workflow not found")
    other = await store.get_workflow_by_name(ctx.db, name)
    if other is not None and other.id != workflow_id:
        raise WorkflowAlreadyExists(_ALREADY_EXISTS)
    try:
        found = await store.update_workflow(ctx.db, workflow_id, name, xml, group, comment)
    except DuplicateName:
        raise WorkflowAlreadyExists(_ALREADY_EXISTS) from None
    if not found:
        raise UnknownWorkflow("Workflow not found")
    await ctx.changed("workflows")
    return Response.success()


@routes.command("workflow", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a workflow with its schedules, rights and subscriptions (ADMIN)."""
    session.require_admin()
    workflow_id = await _workflow_id(ctx, cmd)
    if not await store.delete_workflow(ctx.db, workflow_id):
        raise UnknownWorkflow("Workflow not found")
    for module in ("workflows", "scheduler", "users"):
        await ctx.changed(module)
    return Response.success()


@routes.command("workflow", "subscribe_notification", modifies=True)
async def subscribe_notification(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Subscribe a workflow to a notification (``edit`` right); already subscribed is OK."""
    row = await _authorized(ctx, session, cmd, "edit")
    notification_id = cmd.get_int("notification_id")
    if await notification_store.get_notification(ctx.db, notification_id) is None:
        raise UnknownNotification("Notification ID not found")
    await notification_store.subscribe_notification(ctx.db, row.id, notification_id)
    await ctx.changed("workflows")
    return Response.success()


@routes.command("workflow", "unsubscribe_notification", modifies=True)
async def unsubscribe_notification(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Unsubscribe a workflow from a notification (``edit`` right)."""
    row = await _authorized(ctx, session, cmd, "edit")
    notification_id = cmd.get_int("notification_id")
    if not await notification_store.unsubscribe_notification(ctx.db, row.id, notification_id):
        raise UnknownNotification("Workflow was not subscribed to this notification")
    await ctx.changed("workflows")
    return Response.success()


@routes.command("workflow", "clear_notifications", modifies=True)
async def clear_notifications(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Unsubscribe a workflow from every notification (``edit`` right)."""
    row = await _authorized(ctx, session, cmd, "edit")
    await notification_store.clear_notifications(ctx.db, row.id)
    await ctx.changed("workflows")
    return Response.success()


@routes.command("workflow", "list_notifications")
async def list_notifications(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<notification id/>`` per subscription (``read`` right)."""
    row = await _authorized(ctx, session, cmd, "read")
    ids = await notification_store.workflow_notifications(ctx.db, row.id)
    return Response.success(payload=[element("notification", {"id": nid}) for nid in ids])


@routes.command("workflows", "list")
async def list_workflows(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Every workflow the user may read, by name; ``full`` adds the definitions."""
    full = cmd.get_bool("full", False)
    rows = sorted_by(await store.list_workflows(ctx.db), key=lambda row: row.name)
    payload = [
        workflow_element(row, full=full) for row in rows if session.user.can(row.id, "read")
    ]
    return Response.success(payload=payload)
