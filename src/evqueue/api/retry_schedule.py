"""The ``retry_schedule`` and ``retry_schedules`` command groups: global retry schedules.

Rules (protocol.md §4.4, semantics.md §2.2, §5.2):

- ``retry_schedule`` is ADMIN only, refused before the action is read; ``retry_schedules
  list`` is open to every user (the workflow editor offers the names).
- ``create`` and ``edit`` require ``name`` (1–64 of ``[A-Za-z0-9_-]``, ``Invalid retry
  schedule name``) and ``content``, the base64 of ``<schedule><level retry_delay
  retry_times/>…</schedule>`` checked against ``retry_schedule.xsd`` (INVALID_XML). The
  checked schedule is stored in its canonical form. Names are unique.
- An unknown id is ``Unknown RetrySchedule ID : N`` (UNKNOWN_OBJECT) for ``get``, and
  ``Retry schedule not found`` (UNKNOWN_RETRY_SCHEDULE) for ``edit`` and ``delete``.
- Replies: ``retry-schedule-id`` on create; ``<schedule id name><level …/></schedule>`` from
  ``get`` and from ``list`` (by name).
- Every change reports module ``retry_schedules``. Instances already launched keep the copy
  they imported.
"""

from __future__ import annotations

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.objects import parse_stored, require_found, sorted_by
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.model.retry_schedule import RetrySchedule, validate_retry_schedule_name
from evqueue.protocol import Command, InvalidParameter, Response, UnknownRetrySchedule
from evqueue.storage import DuplicateName
from evqueue.storage import retry_schedules as store
from evqueue.storage.retry_schedules import RetryScheduleRow

__all__ = ["retry_schedule_element", "routes"]

routes = CommandTable()
routes.admin_only("retry_schedule")

_NOT_FOUND = "Retry schedule not found"


def retry_schedule_element(row: RetryScheduleRow) -> etree._Element:
    """The stored ``<schedule>`` with ``id`` and ``name`` added."""
    node = parse_stored(row.xml, "schedule")
    node.set("id", str(row.id))
    node.set("name", row.name)
    return node


def _fields(cmd: Command) -> tuple[str, str]:
    """Read and check ``name`` and ``content``; returns the name and the XML to store."""
    name, content = cmd.get_str("name"), cmd.get_str("content")
    validate_retry_schedule_name(name)
    return name, RetrySchedule.from_base64(content).serialize()


async def _refuse_taken(ctx: ApiContext, name: str, schedule_id: int | None = None) -> None:
    other = await store.get_retry_schedule_by_name(ctx.db, name)
    if other is not None and other.id != schedule_id:
        raise InvalidParameter(f"Retry schedule name '{name}' already exists")


@routes.command("retry_schedule", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """One retry schedule."""
    schedule_id = cmd.get_int("id")
    row = require_found(await store.get_retry_schedule(ctx.db, schedule_id),
                        "RetrySchedule", schedule_id)
    return Response.success(payload=[retry_schedule_element(row)])


@routes.command("retry_schedule", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a retry schedule; replies ``retry-schedule-id``."""
    name, xml = _fields(cmd)
    await _refuse_taken(ctx, name)
    try:
        schedule_id = await store.create_retry_schedule(ctx.db, name, xml)
    except DuplicateName:
        raise InvalidParameter(f"Retry schedule name '{name}' already exists") from None
    await ctx.changed("retry_schedules")
    return Response.success({"retry-schedule-id": schedule_id})


@routes.command("retry_schedule", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a retry schedule's name and levels."""
    name, content = cmd.get_str("name"), cmd.get_str("content")
    schedule_id = cmd.get_int("id")
    if await store.get_retry_schedule(ctx.db, schedule_id) is None:
        raise UnknownRetrySchedule(_NOT_FOUND)
    validate_retry_schedule_name(name)
    xml = RetrySchedule.from_base64(content).serialize()
    await _refuse_taken(ctx, name, schedule_id)
    try:
        found = await store.update_retry_schedule(ctx.db, schedule_id, name, xml)
    except DuplicateName:
        raise InvalidParameter(f"Retry schedule name '{name}' already exists") from None
    if not found:
        raise UnknownRetrySchedule(_NOT_FOUND)
    await ctx.changed("retry_schedules")
    return Response.success()


@routes.command("retry_schedule", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a retry schedule."""
    schedule_id = cmd.get_int("id")
    if not await store.delete_retry_schedule(ctx.db, schedule_id):
        raise UnknownRetrySchedule(_NOT_FOUND)
    await ctx.changed("retry_schedules")
    return Response.success()


@routes.command("retry_schedules", "list")
async def list_retry_schedules(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Every retry schedule with its levels, by name."""
    rows = sorted_by(await store.list_retry_schedules(ctx.db), key=lambda row: row.name)
    return Response.success(payload=[retry_schedule_element(row) for row in rows])
