"""The ``tag`` and ``tags`` command groups: instance tag labels.

Rules (protocol.md §4.4, semantics.md §5.4):

- Both groups are ADMIN only, refused before the action is read.
- A label is non-empty text of at most 64 characters (``Invalid tag label``).
- ``create`` with a label that exists replies the existing tag's id and changes nothing.
- ``edit`` onto another tag's label is INVALID_PARAMETER; an unknown id is ``Tag not found``
  (UNKNOWN_TAG) for ``edit`` and ``delete``, ``Unknown Tag ID : N`` (UNKNOWN_OBJECT) for
  ``get``. Deleting a tag removes it from every instance.
- Replies: ``tag-id`` on create; ``<tag label/>`` from ``get``; ``<tag id label/>`` per tag
  from ``tags list``, by label.
- Every change reports module ``tags``.
"""

from __future__ import annotations

from evqueue.api.context import ApiContext
from evqueue.api.objects import element, require_found, sorted_by
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.model.tags import validate_tag_label
from evqueue.protocol import Command, InvalidParameter, Response, UnknownTag
from evqueue.storage import DuplicateName
from evqueue.storage import tags as store

__all__ = ["routes"]

routes = CommandTable()
routes.admin_only("tag", "tags")

_NOT_FOUND = "Tag not found"


@routes.command("tag", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<tag label/>``."""
    tag_id = cmd.get_int("id")
    row = require_found(await store.get_tag(ctx.db, tag_id), "Tag", tag_id)
    return Response.success(payload=[element("tag", {"label": row.label})])


@routes.command("tag", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a tag, or find the one with this label; replies ``tag-id``."""
    label = cmd.get_str("label")
    validate_tag_label(label)
    existing = await store.get_tag_by_label(ctx.db, label)
    if existing is not None and existing.label == label:
        return Response.success({"tag-id": existing.id})
    tag_id = await store.create_tag(ctx.db, label)
    await ctx.changed("tags")
    return Response.success({"tag-id": tag_id})


@routes.command("tag", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Rename a tag."""
    tag_id = cmd.get_int("id")
    label = cmd.get_str("label")
    validate_tag_label(label)
    if await store.get_tag(ctx.db, tag_id) is None:
        raise UnknownTag(_NOT_FOUND)
    other = await store.get_tag_by_label(ctx.db, label)
    if other is not None and other.id != tag_id:
        raise InvalidParameter(f"Tag label '{label}' already exists")
    try:
        found = await store.update_tag(ctx.db, tag_id, label)
    except DuplicateName:
        raise InvalidParameter(f"Tag label '{label}' already exists") from None
    if not found:
        raise UnknownTag(_NOT_FOUND)
    await ctx.changed("tags")
    return Response.success()


@routes.command("tag", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a tag and untag every instance."""
    tag_id = cmd.get_int("id")
    if not await store.delete_tag(ctx.db, tag_id):
        raise UnknownTag(_NOT_FOUND)
    await ctx.changed("tags")
    return Response.success()


@routes.command("tags", "list")
async def list_tags(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Every tag, by label."""
    rows = sorted_by(await store.list_tags(ctx.db), key=lambda row: row.label)
    return Response.success(payload=[
        element("tag", {"id": row.id, "label": row.label}) for row in rows
    ])
