"""The ``queue`` and ``queuepool`` command groups: queue definitions.

Rules (protocol.md §4.4, semantics.md §3):

- ``queue`` is ADMIN only, refused before the action is read. ``queuepool list`` is open to
  every user.
- ``create`` and ``edit`` require ``name`` (1–64 of ``[A-Za-z0-9_@.-]``), ``concurrency``
  (an integer > 0), ``scheduler`` (``fifo``, ``prio`` or ``default``, the latter meaning
  ``queuepool.scheduler``) and ``dynamic`` (a boolean). Names are unique.
- Errors keep evQueue's texts and codes: an unknown id is ``Unable to find queue``,
  UNKNOWN_OBJECT for ``get`` and UNKNOWN_QUEUE for ``edit`` and ``delete``.
- Replies: ``queue-id`` on create; ``<queue id name concurrency scheduler dynamic="yes|no"/>``
  from ``get`` and ``queuepool list`` (by name). Runtime figures (size, running tasks) are the
  engine's ``statistics type="queue"``.
- Every change reports module ``queuepool``.
"""

from __future__ import annotations

import re

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.objects import element, sorted_by, yes_no
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import Command, InvalidParameter, Response, UnknownObject, UnknownQueue
from evqueue.storage import DuplicateName
from evqueue.storage import queues as store
from evqueue.storage.queues import QueueRow

__all__ = ["SCHEDULERS", "is_valid_queue_name", "queue_element", "routes"]

routes = CommandTable()
routes.admin_only("queue")

#: Values of ``scheduler``; ``default`` follows ``queuepool.scheduler``.
SCHEDULERS = ("fifo", "prio", "default")

_NAME = re.compile(r"[A-Za-z0-9_@.-]{1,64}", re.ASCII)
_NOT_FOUND = "Unable to find queue"


def is_valid_queue_name(name: str) -> bool:
    """Whether ``name`` is a valid queue name (evQueue's ``CheckQueueName``)."""
    return _NAME.fullmatch(name) is not None


def queue_element(row: QueueRow) -> etree._Element:
    """``<queue id name concurrency scheduler dynamic="yes|no"/>``."""
    return element("queue", {"id": row.id, "name": row.name, "concurrency": row.concurrency,
                             "scheduler": row.scheduler, "dynamic": yes_no(row.dynamic)})


def _fields(cmd: Command) -> tuple[str, int, str, bool]:
    """Read and check ``name``, ``concurrency``, ``scheduler`` and ``dynamic``."""
    name = cmd.get_str("name")
    concurrency = cmd.get_int("concurrency")
    scheduler = cmd.get_str("scheduler")
    dynamic = cmd.get_bool("dynamic")
    if not is_valid_queue_name(name):
        raise InvalidParameter("Invalid queue name")
    if concurrency <= 0:
        raise InvalidParameter("Invalid concurrency, must be greater than 0")
    if scheduler not in SCHEDULERS:
        raise InvalidParameter("Invalid scheduler name, must be 'prio', 'fifo' or 'default'")
    return name, concurrency, scheduler, dynamic


async def _refuse_taken(ctx: ApiContext, name: str, queue_id: int | None = None) -> None:
    other = await store.get_queue_by_name(ctx.db, name)
    if other is not None and other.id != queue_id:
        raise InvalidParameter(f"Queue name '{name}' already exists")


@routes.command("queue", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """One queue definition."""
    queue_id = cmd.get_int("id")
    row = await store.get_queue(ctx.db, queue_id)
    if row is None:
        raise UnknownObject(_NOT_FOUND)
    return Response.success(payload=[queue_element(row)])


@routes.command("queue", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a queue; replies ``queue-id``."""
    name, concurrency, scheduler, dynamic = _fields(cmd)
    await _refuse_taken(ctx, name)
    try:
        queue_id = await store.create_queue(ctx.db, name, concurrency, scheduler, dynamic)
    except DuplicateName:
        raise InvalidParameter(f"Queue name '{name}' already exists") from None
    await ctx.changed("queuepool")
    return Response.success({"queue-id": queue_id})


@routes.command("queue", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a queue's definition."""
    name, concurrency, scheduler, dynamic = _fields(cmd)
    queue_id = cmd.get_int("id")
    if await store.get_queue(ctx.db, queue_id) is None:
        raise UnknownQueue(_NOT_FOUND)
    await _refuse_taken(ctx, name, queue_id)
    try:
        found = await store.update_queue(ctx.db, queue_id, name, concurrency, scheduler, dynamic)
    except DuplicateName:
        raise InvalidParameter(f"Queue name '{name}' already exists") from None
    if not found:
        raise UnknownQueue(_NOT_FOUND)
    await ctx.changed("queuepool")
    return Response.success()


@routes.command("queue", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a queue; tasks already queued on it drain first (engine side)."""
    queue_id = cmd.get_int("id")
    if not await store.delete_queue(ctx.db, queue_id):
        raise UnknownQueue(_NOT_FOUND)
    await ctx.changed("queuepool")
    return Response.success()


@routes.command("queuepool", "list")
async def list_queues(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Every queue definition, by name."""
    rows = sorted_by(await store.list_queues(ctx.db), key=lambda row: row.name)
    return Response.success(payload=[queue_element(row) for row in rows])
