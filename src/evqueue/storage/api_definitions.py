"""Storage verbs the definition command groups need beyond the per-domain modules.

Rules:

* User passwords are written as the three ``t_user`` credential columns exactly as the caller
  computed them (``user_password``, ``user_password_salt``, ``user_password_iterations``):
  evQueue's plain SHA-1 hex with a NULL salt and 0 iterations, or the wrapped format of
  ``evqueue.protocol.auth``. This module never hashes anything itself.
* Registering a notification type whose name exists replaces that type's description,
  manifest, scope and binary and keeps its id (and so its notifications), as evQueue's
  ``INSERT … ON DUPLICATE KEY UPDATE`` does.
* ``update_variable`` rewrites every column of a variable by id; moving it onto another
  variable's (path, name) raises ``DuplicateName``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import t_notification_type, t_storage, t_user

__all__ = [
    "create_user_with_password",
    "register_notification_type",
    "set_user_password",
    "update_user_with_password",
    "update_variable",
]


def _credential(password: str, salt: str | None, iterations: int) -> dict[str, Any]:
    return {
        "user_password": password,
        "user_password_salt": salt,
        "user_password_iterations": iterations,
    }


async def create_user_with_password(
    db: Database, login: str, profile: str, *, password: str, salt: str | None, iterations: int
) -> int:
    """Create a user with an already computed credential; returns its id.

    Args:
        db: the database.
        login: the unique login.
        profile: ``ADMIN`` or ``USER``.
        password: the ``user_password`` column (40 hex characters).
        salt: the ``user_password_salt`` column (None for evQueue's format).
        iterations: the ``user_password_iterations`` column (0 for evQueue's format).

    Raises:
        DuplicateName: A user with this login exists.
    """
    return await db.insert(
        insert(t_user).values(
            user_login=login, user_profile=profile, user_preferences="",
            **_credential(password, salt, iterations),
        )
    )


async def update_user_with_password(
    db: Database, user_id: int, login: str, profile: str, *,
    password: str | None, salt: str | None = None, iterations: int = 0,
) -> bool:
    """Change login and profile, and the credential when ``password`` is not None.

    Returns:
        False if the user does not exist.

    Raises:
        DuplicateName: Another user has this login.
    """
    values: dict[str, Any] = {"user_login": login, "user_profile": profile}
    if password is not None:
        values.update(_credential(password, salt, iterations))
    return await db.execute(update(t_user).where(t_user.c.user_id == user_id).values(values)) > 0


async def set_user_password(
    db: Database, user_id: int, *, password: str, salt: str | None, iterations: int
) -> bool:
    """Replace a user's credential; returns False if the user does not exist."""
    stmt = (
        update(t_user)
        .where(t_user.c.user_id == user_id)
        .values(_credential(password, salt, iterations))
    )
    return await db.execute(stmt) > 0


async def register_notification_type(
    db: Database, *, scope: str, name: str, description: str, manifest: str, binary: bytes
) -> int:
    """Create a notification type, or replace the one with this name; returns its id."""
    nt = t_notification_type.c
    values = {
        "notification_type_scope": scope,
        "notification_type_description": description,
        "notification_type_manifest": manifest,
        "notification_type_binary_content": binary,
    }

    async def work(conn: AsyncConnection) -> int:
        query = select(nt.notification_type_id).where(nt.notification_type_name == name)
        found = (await conn.execute(query)).scalar()
        if found is not None:
            await conn.execute(
                update(t_notification_type)
                .where(nt.notification_type_id == found)
                .values(values)
            )
            return int(found)
        result = await conn.execute(
            insert(t_notification_type).values(notification_type_name=name, **values)
        )
        return int(result.inserted_primary_key[0])

    return await db.write(work)


async def update_variable(
    db: Database, variable_id: int, *, path: str, name: str, type: str, structure: str,
    value: str,
) -> bool:
    """Rewrite a variable by id; returns False if it does not exist.

    Raises:
        DuplicateName: Another variable has this (path, name).
    """
    stmt = (
        update(t_storage)
        .where(t_storage.c.storage_id == variable_id)
        .values(
            storage_path=path, storage_name=name, storage_type=type,
            storage_structure=structure, storage_value=value,
        )
    )
    return await db.execute(stmt) > 0
