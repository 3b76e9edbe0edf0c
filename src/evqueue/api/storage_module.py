"""The storage module's command groups: ``storage`` (variables, in :mod:`.variables`),
``launcher``/``launchers`` and ``display``/``displays``.

Register :data:`routes`, which holds all of them; the ``routes`` of :mod:`.variables` is a
part of it, not to be registered again.

Rules (protocol.md §4.5, semantics.md §5.6):

- Launchers: ``create``, ``edit``, ``delete``, ``grant`` and ``revoke`` need ADMIN; ``get``
  needs the module right storage/launcher/<id> (ADMIN holds every one); ``launchers list``
  shows only the launchers the user may use. A launcher has a unique ``name`` (1–64),
  ``group`` (≤ 64), ``description``, an existing ``workflow_id``, ``user`` and ``host``
  (paths of variables, ≤ 64) and ``parameters`` (JSON). ``grant``/``revoke`` take
  ``user_id`` and ``launcher_id``; revoking a right that does not exist is
  ALREADY_NO_RIGHTS. ``launcher launch`` is not served here: it starts an instance, which
  takes the engine.
- Displays: ``create``, ``edit`` and ``delete`` need ADMIN; ``get`` and the lists are open.
  A display has a unique ``name`` (1–64), ``group`` (≤ 64), a variable ``path`` (1–255),
  ``order`` (``ASC`` or ``DESC``), ``item_title`` (1–128) and ``item_content`` (non-empty).
- Unknown ids: ``Unknown <Launcher|Display|User> ID : N`` (UNKNOWN_OBJECT) for reads and
  grants, ``Launcher not found`` (UNKNOWN_LAUNCHER) / ``Display not found`` (UNKNOWN_DISPLAY)
  for changes.
- Replies: ``launcher-id`` / ``display-id`` on create; ``get`` sets the fields as root
  attributes; ``<launcher id name group description/>``, ``<display id name group/>`` and
  ``<group name/>``, by name.
- Changes report ``launchers`` or ``displays``; ``grant``/``revoke`` report ``users``.
"""

from __future__ import annotations

from evqueue.api import variables
from evqueue.api.context import ApiContext
from evqueue.api.objects import check_json, check_length, element, require_found, sorted_by
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import (
    AlreadyNoRights,
    Command,
    InsufficientRights,
    InvalidParameter,
    Response,
    UnknownDisplay,
    UnknownLauncher,
)
from evqueue.storage import DuplicateName
from evqueue.storage import storage_module as store
from evqueue.storage.storage_module import DisplaySpec, LauncherSpec
from evqueue.storage.users import get_user, grant_module_right, revoke_module_right
from evqueue.storage.workflows import get_workflow

__all__ = ["routes"]

routes = CommandTable()

_NAME_MAX, _PATH_MAX, _USER_HOST_MAX, _TITLE_MAX, _TEXT_MAX = 64, 255, 64, 128, 0xFFFF
_LAUNCHER_NOT_FOUND = "Launcher not found"
_DISPLAY_NOT_FOUND = "Display not found"


# --- launchers ----------------------------------------------------------------------------


async def _launcher_spec(ctx: ApiContext, cmd: Command) -> LauncherSpec:
    """Read and check the fields of a launcher create/edit request."""
    spec = LauncherSpec(
        name=cmd.get_str("name"), group=cmd.get_str("group", ""),
        description=cmd.get_str("description", ""), user=cmd.get_str("user"),
        host=cmd.get_str("host"), parameters=cmd.get_str("parameters"),
        workflow_id=cmd.get_int("workflow_id"),
    )
    if spec.name == "":
        raise InvalidParameter("Name cannot be empty")
    check_length(spec.name, _NAME_MAX, "Name is too long")
    check_length(spec.group, _NAME_MAX, "Group is too long")
    check_length(spec.description, _TEXT_MAX, "Description is too long")
    require_found(await get_workflow(ctx.db, spec.workflow_id), "Workflow", spec.workflow_id)
    check_length(spec.user, _USER_HOST_MAX, "User variable path is too long")
    check_length(spec.host, _USER_HOST_MAX, "Host variable path is too long")
    check_length(spec.parameters, _TEXT_MAX, "Parameters json is too long")
    check_json(spec.parameters, "Invalid json in parameters")
    return spec


def _launcher_taken(name: str) -> InvalidParameter:
    return InvalidParameter(f"Launcher « {name} » already exists")


@routes.command("launcher", "create", modifies=True)
async def create_launcher(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a launcher (ADMIN); replies ``launcher-id``."""
    session.require_admin()
    spec = await _launcher_spec(ctx, cmd)
    try:
        launcher_id = await store.create_launcher(ctx.db, spec)
    except DuplicateName:
        raise _launcher_taken(spec.name) from None
    await ctx.changed("launchers")
    return Response.success({"launcher-id": launcher_id})


@routes.command("launcher", "edit", modifies=True)
async def edit_launcher(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a launcher (ADMIN)."""
    session.require_admin()
    spec = await _launcher_spec(ctx, cmd)
    launcher_id = cmd.get_int("id")
    try:
        found = await store.update_launcher(ctx.db, launcher_id, spec)
    except DuplicateName:
        raise _launcher_taken(spec.name) from None
    if not found:
        raise UnknownLauncher(_LAUNCHER_NOT_FOUND)
    await ctx.changed("launchers")
    return Response.success()


@routes.command("launcher", "get")
async def get_launcher(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """The launcher's fields as root attributes (module right storage/launcher/id)."""
    launcher_id = cmd.get_int("id")
    if not session.user.can_module("storage", "launcher", launcher_id):
        raise InsufficientRights()
    row = require_found(await store.get_launcher(ctx.db, launcher_id), "Launcher", launcher_id)
    return Response.success({
        "name": row.name, "group": row.group, "description": row.description,
        "workflow_id": row.workflow_id, "user": row.user, "host": row.host,
        "parameters": row.parameters,
    })


@routes.command("launcher", "delete", modifies=True)
async def delete_launcher(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a launcher and every user's right on it (ADMIN)."""
    session.require_admin()
    launcher_id = cmd.get_int("id")
    if not await store.delete_launcher(ctx.db, launcher_id):
        raise UnknownLauncher(_LAUNCHER_NOT_FOUND)
    await ctx.changed("launchers")
    await ctx.changed("users")
    return Response.success()


@routes.command("launcher", "grant", "revoke", modifies=True)
async def grant_launcher(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Give (``grant``) or take (``revoke``) a user's right to use a launcher (ADMIN)."""
    session.require_admin()
    user_id, launcher_id = cmd.get_int("user_id"), cmd.get_int("launcher_id")
    require_found(await get_user(ctx.db, user_id), "User", user_id)
    require_found(await store.get_launcher(ctx.db, launcher_id), "Launcher", launcher_id)
    if cmd.action == "grant":
        await grant_module_right(ctx.db, user_id, "storage", "launcher", launcher_id)
    elif not await revoke_module_right(ctx.db, user_id, "storage", "launcher", launcher_id):
        raise AlreadyNoRights("No right found on that launcher")
    await ctx.changed("users")
    return Response.success()


@routes.command("launchers", "list")
async def list_launchers(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """The launchers the user may use, by name."""
    rows = sorted_by(await store.list_launchers(ctx.db), key=lambda row: row.name)
    return Response.success(payload=[
        element("launcher", {"id": row.id, "name": row.name, "group": row.group,
                             "description": row.description})
        for row in rows if session.user.can_module("storage", "launcher", row.id)
    ])


# --- displays -----------------------------------------------------------------------------


def _display_spec(cmd: Command) -> DisplaySpec:
    """Read and check the fields of a display create/edit request."""
    spec = DisplaySpec(
        name=cmd.get_str("name"), group=cmd.get_str("group", ""), path=cmd.get_str("path"),
        order=cmd.get_str("order"), item_title=cmd.get_str("item_title"),
        item_content=cmd.get_str("item_content"),
    )
    if spec.name == "":
        raise InvalidParameter("Name cannot be empty")
    check_length(spec.name, _NAME_MAX, "Name is too long")
    check_length(spec.group, _NAME_MAX, "Group is too long")
    if spec.order not in ("ASC", "DESC"):
        raise InvalidParameter("Order must be ASC or DESC")
    if spec.path == "":
        raise InvalidParameter("Variable path can't be empty")
    check_length(spec.path, _PATH_MAX, "Variable path is too long")
    if spec.item_title == "":
        raise InvalidParameter("Item title can't be empty")
    check_length(spec.item_title, _TITLE_MAX, "Item title is too long")
    if spec.item_content == "":
        raise InvalidParameter("Item content can't be empty")
    check_length(spec.item_content, _TEXT_MAX, "Item content is too long")
    return spec


def _display_taken(name: str) -> InvalidParameter:
    return InvalidParameter(f"Display « {name} » already exists")


@routes.command("display", "create", modifies=True)
async def create_display(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a display (ADMIN); replies ``display-id``."""
    session.require_admin()
    spec = _display_spec(cmd)
    try:
        display_id = await store.create_display(ctx.db, spec)
    except DuplicateName:
        raise _display_taken(spec.name) from None
    await ctx.changed("displays")
    return Response.success({"display-id": display_id})


@routes.command("display", "edit", modifies=True)
async def edit_display(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a display (ADMIN)."""
    session.require_admin()
    spec = _display_spec(cmd)
    display_id = cmd.get_int("id")
    try:
        found = await store.update_display(ctx.db, display_id, spec)
    except DuplicateName:
        raise _display_taken(spec.name) from None
    if not found:
        raise UnknownDisplay(_DISPLAY_NOT_FOUND)
    await ctx.changed("displays")
    return Response.success()


@routes.command("display", "get")
async def get_display(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """The display's fields as root attributes."""
    display_id = cmd.get_int("id")
    row = require_found(await store.get_display(ctx.db, display_id), "Display", display_id)
    return Response.success({
        "name": row.name, "group": row.group, "path": row.path, "order": row.order,
        "item_title": row.item_title, "item_content": row.item_content,
    })


@routes.command("display", "delete", modifies=True)
async def delete_display(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a display (ADMIN)."""
    session.require_admin()
    display_id = cmd.get_int("id")
    if not await store.delete_display(ctx.db, display_id):
        raise UnknownDisplay(_DISPLAY_NOT_FOUND)
    await ctx.changed("displays")
    return Response.success()


@routes.command("displays", "list")
async def list_displays(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<display id name group/>`` per display, by name."""
    rows = sorted_by(await store.list_displays(ctx.db), key=lambda row: row.name)
    return Response.success(payload=[
        element("display", {"id": row.id, "name": row.name, "group": row.group})
        for row in rows
    ])


@routes.command("displays", "listgroups")
async def list_groups(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<group name/>`` per distinct display group, in order."""
    groups = sorted({row.group for row in await store.list_displays(ctx.db)})
    return Response.success(payload=[element("group", {"name": group}) for group in groups])


routes.routes.extend(variables.routes.routes)
routes.admin_groups |= variables.routes.admin_groups
