"""The ``user`` and ``users`` command groups: accounts and workflow rights.

Rules (protocol.md §4.4, semantics.md §5.9):

- A user is named by ``id``, else by ``name`` (``Unknown User name : X``, UKNOWN_OBJECT).
- ``get``, ``change_password`` and ``update_preferences`` are allowed to an ADMIN or to the
  user itself; every other action, and ``users list``, needs ADMIN. A USER naming anyone else,
  existing or not, gets INSUFFICIENT_RIGHTS: the answer does not tell which logins exist.
- Names are 1–32 of ``[A-Za-z0-9_-]`` (``Invalid user name``) and unique; the profile is
  ``ADMIN`` or ``USER``. ``create`` needs a non-empty password; ``edit`` changes the password
  only when one is given.
- Passwords are stored as :func:`evqueue.protocol.auth.hash_password` computes them: wrapped
  with the node's secret when ``core.auth.secret`` names a secret file, else evQueue's plain
  SHA-1 hex (salt NULL, 0 iterations).
- Refused with INVALID_PARAMETER (evQueue allows both): deleting yourself, and deleting or
  demoting the last ADMIN, since either would lock every administrator out.
- Rights: ``grant`` takes ``workflow_id`` and the four booleans ``edit``, ``read``, ``exec``,
  ``kill`` (all required) and replaces the previous ones; ``revoke`` of a right that does not
  exist is ALREADY_NO_RIGHTS. Replies write booleans ``yes``/``no``.
- Every change reports module ``users``: the sessions already open, on every node, get the new
  profile and rights from their next command on, and a deleted user's sessions are closed
  (:mod:`evqueue.api.session_registry`).
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.objects import element, id_or_name, require_found, sorted_by, yes_no
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.protocol import (
    AlreadyNoRights,
    ApiError,
    Command,
    InsufficientRights,
    InvalidParameter,
    Response,
    StoredPassword,
    UnknownObjectName,
    UnknownUser,
    UnknownWorkflow,
    hash_password,
    parse_secret,
)
from evqueue.storage import DuplicateName
from evqueue.storage import api_definitions as credentials
from evqueue.storage import users as store
from evqueue.storage.users import UserRight, UserRow
from evqueue.storage.workflows import get_workflow

__all__ = ["PROFILES", "is_valid_user_name", "routes", "stored_password"]

routes = CommandTable()
routes.admin_only("users")

PROFILES = ("ADMIN", "USER")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
_NOT_FOUND = "User not found"


def is_valid_user_name(name: str) -> bool:
    """Whether ``name`` is a valid login (evQueue's ``CheckUserName``)."""
    return _NAME.fullmatch(name) is not None


def stored_password(ctx: ApiContext, password: str) -> StoredPassword:
    """The credential columns for ``password`` on this node.

    Raises:
        ApiError: ``core.auth.secret`` names a file that cannot be read or holds no secret.
    """
    path = ctx.cfg.path("core.auth.secret")
    if not path:
        return hash_password(password)
    try:
        secret = parse_secret(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise ApiError(f"Cannot use the auth secret file {path} : {exc}") from None
    return hash_password(password, secret=secret)


def _right_element(right: UserRight) -> etree._Element:
    return element("right", {"workflow-id": right.workflow_id, "edit": yes_no(right.edit),
                             "read": yes_no(right.read), "exec": yes_no(right.exec),
                             "kill": yes_no(right.kill)})


async def _user_id(ctx: ApiContext, cmd: Command) -> int:
    async def by_name(name: str) -> int | None:
        row = await store.get_user_by_login(ctx.db, name)
        # Exact match: MariaDB's default collation would also find other cases.
        return row.id if row is not None and row.login == name else None

    return await id_or_name(cmd, "User", by_name)


def _require_self_or_admin(session: Session, user_id: int) -> None:
    if not session.user.is_admin and session.user.id != user_id:
        raise InsufficientRights()


async def _own_or_any(ctx: ApiContext, session: Session, cmd: Command) -> int:
    """The user a self-service request names, once the caller may act on it."""
    try:
        user_id = await _user_id(ctx, cmd)
    except UnknownObjectName:
        if session.user.is_admin:
            raise
        raise InsufficientRights() from None  # same answer as for an existing login
    _require_self_or_admin(session, user_id)
    return user_id


async def _existing(ctx: ApiContext, user_id: int) -> UserRow:
    row = await store.get_user(ctx.db, user_id)
    if row is None:
        raise UnknownUser(_NOT_FOUND)
    return row


async def _is_last_admin(ctx: ApiContext, row: UserRow) -> bool:
    if row.profile != "ADMIN":
        return False
    admins = [user for user in await store.list_users(ctx.db) if user.profile == "ADMIN"]
    return len(admins) <= 1


def _check_fields(name: str, profile: str) -> None:
    if not is_valid_user_name(name):
        raise InvalidParameter("Invalid user name")
    if profile not in PROFILES:
        raise InvalidParameter("Invalid profile, should be 'ADMIN' or 'USER'")


@routes.command("user", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<user id name profile preferences><right …/></user>`` (ADMIN or self)."""
    user_id = await _own_or_any(ctx, session, cmd)
    row = require_found(await store.get_user(ctx.db, user_id), "User", user_id)
    rights = await store.list_rights(ctx.db, user_id)
    node = element("user", {"id": row.id, "name": row.login, "profile": row.profile,
                            "preferences": row.preferences},
                   [_right_element(right) for right in rights])
    return Response.success(payload=[node])


@routes.command("user", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a user; replies ``user-id``."""
    session.require_admin()
    name, password = cmd.get_str("name"), cmd.get_str("password", "")
    profile = cmd.get_str("profile")
    _check_fields(name, profile)
    if password == "":
        raise InvalidParameter("Empty password")
    stored = stored_password(ctx, password)
    try:
        user_id = await credentials.create_user_with_password(
            ctx.db, name, profile, password=stored.password, salt=stored.salt,
            iterations=stored.iterations,
        )
    except DuplicateName:
        raise InvalidParameter(f"User name '{name}' already exists") from None
    await ctx.changed("users")
    return Response.success({"user-id": user_id})


@routes.command("user", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Change a user's name and profile, and its password when one is given."""
    session.require_admin()
    name, password = cmd.get_str("name"), cmd.get_str("password", "")
    profile = cmd.get_str("profile")
    user_id = await _user_id(ctx, cmd)
    _check_fields(name, profile)
    row = await _existing(ctx, user_id)
    if profile != "ADMIN" and await _is_last_admin(ctx, row):
        raise InvalidParameter("Cannot remove the ADMIN profile of the last administrator")
    stored = stored_password(ctx, password) if password else None
    try:
        await credentials.update_user_with_password(
            ctx.db, user_id, name, profile,
            password=stored.password if stored else None,
            salt=stored.salt if stored else None,
            iterations=stored.iterations if stored else 0,
        )
    except DuplicateName:
        raise InvalidParameter(f"User name '{name}' already exists") from None
    await ctx.changed("users")
    return Response.success()


@routes.command("user", "change_password", modifies=True)
async def change_password(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Set a user's password (ADMIN or self)."""
    user_id = await _own_or_any(ctx, session, cmd)
    password = cmd.get_str("password")
    await _existing(ctx, user_id)
    if password == "":
        raise InvalidParameter("Invalid password")
    stored = stored_password(ctx, password)
    await credentials.set_user_password(
        ctx.db, user_id, password=stored.password, salt=stored.salt, iterations=stored.iterations
    )
    await ctx.changed("users")
    return Response.success()


@routes.command("user", "update_preferences", modifies=True)
async def update_preferences(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Store a user's UI preferences, opaque text (ADMIN or self)."""
    user_id = await _own_or_any(ctx, session, cmd)
    preferences = cmd.get_str("preferences")
    await _existing(ctx, user_id)
    await store.set_preferences(ctx.db, user_id, preferences)
    await ctx.changed("users")
    return Response.success()


@routes.command("user", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a user and its rights; never yourself nor the last ADMIN."""
    session.require_admin()
    user_id = await _user_id(ctx, cmd)
    if user_id == session.user.id:
        raise InvalidParameter("You cannot delete yourself")
    row = await _existing(ctx, user_id)
    if await _is_last_admin(ctx, row):
        raise InvalidParameter("Cannot delete the last administrator")
    if not await store.delete_user(ctx.db, user_id):
        raise UnknownUser(_NOT_FOUND)
    await ctx.changed("users")
    return Response.success()


@routes.command("user", "clear_rights", modifies=True)
async def clear_rights(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Remove every workflow right of a user."""
    session.require_admin()
    user_id = await _user_id(ctx, cmd)
    await _existing(ctx, user_id)
    await store.clear_rights(ctx.db, user_id)
    await ctx.changed("users")
    return Response.success()


@routes.command("user", "list_rights")
async def list_rights(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<right workflow-id read edit exec kill/>`` per workflow."""
    session.require_admin()
    user_id = await _user_id(ctx, cmd)
    require_found(await store.get_user(ctx.db, user_id), "User", user_id)
    rights = await store.list_rights(ctx.db, user_id)
    return Response.success(payload=[_right_element(right) for right in rights])


@routes.command("user", "list_module_rights")
async def list_module_rights(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<right object-id right="yes|no"/>`` per object of ``module``/``type``."""
    session.require_admin()
    user_id = await _user_id(ctx, cmd)
    module, object_type = cmd.get_str("module"), cmd.get_str("type")
    require_found(await store.get_user(ctx.db, user_id), "User", user_id)
    rights = await store.list_module_rights(ctx.db, user_id, module, object_type)
    return Response.success(payload=[
        element("right", {"object-id": right.object_id, "right": yes_no(bool(right.access))})
        for right in rights
    ])


@routes.command("user", "grant", modifies=True)
async def grant(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Give a user exactly these rights on a workflow."""
    session.require_admin()
    user_id = await _user_id(ctx, cmd)
    workflow_id = cmd.get_int("workflow_id")
    flags = {name: cmd.get_bool(name) for name in ("edit", "read", "exec", "kill")}
    await _existing(ctx, user_id)
    if await get_workflow(ctx.db, workflow_id) is None:
        raise UnknownWorkflow("Workflow not found")
    await store.set_right(ctx.db, user_id, workflow_id, **flags)
    await ctx.changed("users")
    return Response.success()


@routes.command("user", "revoke", modifies=True)
async def revoke(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Remove a user's rights on a workflow."""
    session.require_admin()
    user_id = await _user_id(ctx, cmd)
    workflow_id = cmd.get_int("workflow_id")
    await _existing(ctx, user_id)
    if not await store.revoke_right(ctx.db, user_id, workflow_id):
        raise AlreadyNoRights("No right found on that workflow")
    await ctx.changed("users")
    return Response.success()


@routes.command("users", "list")
async def list_users(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<user id name profile/>`` per user, by name."""
    rows = sorted_by(await store.list_users(ctx.db), key=lambda row: row.login)
    return Response.success(payload=[
        element("user", {"id": row.id, "name": row.login, "profile": row.profile})
        for row in rows
    ])
