"""Users (``t_user``), workflow rights (``t_user_right``), module rights (``t_user_module``).

Rules:

* Passwords are stored as evQueue stores them: the lowercase hex SHA-1 of the password
  (``hash_password``); the verbs take the plain password. ``UserRow.password`` is that hash,
  which is also the HMAC key of the authentication handshake.
* Logins are unique (``DuplicateName``). Profiles are ``ADMIN`` or ``USER``.
* Granting a right replaces the previous flags for that (user, workflow) pair, as evQueue's
  ``REPLACE INTO`` does. Deleting a user deletes all its rights.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import t_user, t_user_module, t_user_right

__all__ = [
    "ModuleRight",
    "UserRight",
    "UserRow",
    "clear_rights",
    "create_user",
    "delete_user",
    "get_user",
    "get_user_by_login",
    "grant_module_right",
    "hash_password",
    "list_module_rights",
    "list_rights",
    "list_users",
    "revoke_module_object",
    "revoke_module_right",
    "revoke_right",
    "set_password",
    "set_preferences",
    "set_right",
    "update_user",
]


@dataclass(frozen=True, slots=True)
class UserRow:
    """One user; ``password`` is the hex SHA-1 of the password."""

    id: int
    login: str
    password: str
    profile: str
    preferences: str


@dataclass(frozen=True, slots=True)
class UserRight:
    """A user's rights on one workflow."""

    user_id: int
    workflow_id: int
    edit: bool
    read: bool
    exec: bool
    kill: bool


@dataclass(frozen=True, slots=True)
class ModuleRight:
    """A user's access to one object of a module (e.g. storage / launcher / 3)."""

    user_id: int
    module: str
    type: str
    object_id: int
    access: int


def hash_password(password: str) -> str:
    """The stored form of a password: lowercase hex SHA-1."""
    return hashlib.sha1(password.encode()).hexdigest()


def _user(row: Row[Any]) -> UserRow:
    return UserRow(
        id=row.user_id, login=row.user_login, password=row.user_password,
        profile=row.user_profile, preferences=row.user_preferences,
    )


async def list_users(db: Database) -> list[UserRow]:
    """Every user, by login."""
    return [_user(r) for r in await db.fetch_all(select(t_user).order_by(t_user.c.user_login))]


async def get_user(db: Database, user_id: int) -> UserRow | None:
    """The user with this id, or None."""
    row = await db.fetch_one(select(t_user).where(t_user.c.user_id == user_id))
    return _user(row) if row else None


async def get_user_by_login(db: Database, login: str) -> UserRow | None:
    """The user with this login, or None."""
    row = await db.fetch_one(select(t_user).where(t_user.c.user_login == login))
    return _user(row) if row else None


async def create_user(
    db: Database, login: str, password: str, profile: str = "USER", preferences: str = ""
) -> int:
    """Create a user; returns its id.

    Raises:
        DuplicateName: A user with this login exists.
    """
    return await db.insert(
        insert(t_user).values(
            user_login=login, user_password=hash_password(password), user_profile=profile,
            user_preferences=preferences, user_password_iterations=0,
        )
    )


async def update_user(
    db: Database, user_id: int, login: str, profile: str, password: str | None = None
) -> bool:
    """Change login and profile, and the password when one is given.

    Returns:
        False if the user does not exist.

    Raises:
        DuplicateName: Another user has this login.
    """
    values: dict[str, Any] = {"user_login": login, "user_profile": profile}
    if password:
        values["user_password"] = hash_password(password)
    return await db.execute(update(t_user).where(t_user.c.user_id == user_id).values(values)) > 0


async def set_password(db: Database, user_id: int, password: str) -> bool:
    """Change a user's password; returns False if the user does not exist."""
    stmt = (
        update(t_user)
        .where(t_user.c.user_id == user_id)
        .values(user_password=hash_password(password))
    )
    return await db.execute(stmt) > 0


async def set_preferences(db: Database, user_id: int, preferences: str) -> bool:
    """Store a user's UI preferences (opaque text); returns False if no such user."""
    stmt = update(t_user).where(t_user.c.user_id == user_id).values(user_preferences=preferences)
    return await db.execute(stmt) > 0


async def delete_user(db: Database, user_id: int) -> bool:
    """Delete a user and all its rights; returns False if the user did not exist."""

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(delete(t_user).where(t_user.c.user_id == user_id))
        await conn.execute(delete(t_user_right).where(t_user_right.c.user_id == user_id))
        await conn.execute(delete(t_user_module).where(t_user_module.c.user_id == user_id))
        return bool(result.rowcount)

    return await db.write(work)


# --- workflow rights ---------------------------------------------------------------------


def _right(row: Row[Any]) -> UserRight:
    return UserRight(
        user_id=row.user_id, workflow_id=row.workflow_id, edit=bool(row.user_right_edit),
        read=bool(row.user_right_read), exec=bool(row.user_right_exec),
        kill=bool(row.user_right_kill),
    )


async def list_rights(db: Database, user_id: int | None = None) -> list[UserRight]:
    """The workflow rights of one user, or of every user when ``user_id`` is None."""
    query = select(t_user_right).order_by(t_user_right.c.user_id, t_user_right.c.workflow_id)
    if user_id is not None:
        query = query.where(t_user_right.c.user_id == user_id)
    return [_right(r) for r in await db.fetch_all(query)]


async def set_right(
    db: Database, user_id: int, workflow_id: int, *,
    edit: bool, read: bool, exec: bool, kill: bool,
) -> None:
    """Give a user exactly these rights on a workflow (replacing previous ones)."""

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(
            delete(t_user_right).where(
                t_user_right.c.user_id == user_id, t_user_right.c.workflow_id == workflow_id
            )
        )
        await conn.execute(
            insert(t_user_right).values(
                user_id=user_id, workflow_id=workflow_id, user_right_edit=int(edit),
                user_right_read=int(read), user_right_exec=int(exec), user_right_kill=int(kill),
            )
        )

    await db.write(work)


async def revoke_right(db: Database, user_id: int, workflow_id: int) -> bool:
    """Remove a user's rights on a workflow; returns False if it had none."""
    stmt = delete(t_user_right).where(
        t_user_right.c.user_id == user_id, t_user_right.c.workflow_id == workflow_id
    )
    return await db.execute(stmt) > 0


async def clear_rights(db: Database, user_id: int) -> int:
    """Remove all of a user's workflow rights; returns how many there were."""
    return await db.execute(delete(t_user_right).where(t_user_right.c.user_id == user_id))


# --- module rights -----------------------------------------------------------------------


def _module_right(row: Row[Any]) -> ModuleRight:
    return ModuleRight(
        user_id=row.user_id, module=row.module_name, type=row.user_module_type,
        object_id=row.user_module_object, access=row.user_module_access,
    )


async def list_module_rights(
    db: Database, user_id: int | None = None, module: str | None = None, type: str | None = None
) -> list[ModuleRight]:
    """Module rights, optionally restricted to a user, a module and an object type."""
    m = t_user_module.c
    query = select(t_user_module).order_by(m.user_id, m.module_name, m.user_module_object)
    if user_id is not None:
        query = query.where(m.user_id == user_id)
    if module is not None:
        query = query.where(m.module_name == module)
    if type is not None:
        query = query.where(m.user_module_type == type)
    return [_module_right(r) for r in await db.fetch_all(query)]


def _module_key(user_id: int | None, module: str, type: str, object_id: int) -> list[Any]:
    m = t_user_module.c
    clauses = [m.module_name == module, m.user_module_type == type,
               m.user_module_object == object_id]
    if user_id is not None:
        clauses.append(m.user_id == user_id)
    return clauses


async def grant_module_right(
    db: Database, user_id: int, module: str, type: str, object_id: int
) -> None:
    """Give a user access to one module object (idempotent)."""

    async def work(conn: AsyncConnection) -> None:
        await conn.execute(delete(t_user_module).where(*_module_key(user_id, module, type,
                                                                     object_id)))
        await conn.execute(
            insert(t_user_module).values(
                user_id=user_id, module_name=module, user_module_type=type,
                user_module_object=object_id, user_module_access=1,
            )
        )

    await db.write(work)


async def revoke_module_right(
    db: Database, user_id: int, module: str, type: str, object_id: int
) -> bool:
    """Remove a user's access to one module object; returns False if it had none."""
    stmt = delete(t_user_module).where(*_module_key(user_id, module, type, object_id))
    return await db.execute(stmt) > 0


async def revoke_module_object(db: Database, module: str, type: str, object_id: int) -> int:
    """Remove every user's access to a module object (it was deleted); returns the count."""
    return await db.execute(delete(t_user_module).where(*_module_key(None, module, type,
                                                                       object_id)))
