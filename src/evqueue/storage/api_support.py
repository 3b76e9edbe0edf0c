"""Reads the XML API needs beyond the domain verbs: a user's credential and rights at login.

Rules:

* A login reads in two steps, so that a wrong password and an unknown login cost the store the
  same work (one query) and cannot be told apart by their timing: ``load_credential`` reads the
  user's row (the three credential columns of ``t_user``: password, salt, iterations, so both
  stored formats of ``evqueue.protocol.auth`` can be used; and the profile), and only once the
  credential is verified ``load_grants`` reads the workflow and module rights. Nothing here
  interprets the credential; the API's login does.
* Module rights with an access value of 0 are not returned (they grant nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.tables import t_user, t_user_module, t_user_right

__all__ = ["LoginCredential", "LoginGrants", "LoginRight", "load_credential", "load_grants"]


@dataclass(frozen=True, slots=True)
class LoginRight:
    """A user's flags on one workflow."""

    workflow_id: int
    read: bool
    exec: bool
    edit: bool
    kill: bool


@dataclass(frozen=True, slots=True)
class LoginCredential:
    """What verifying a login needs about one user."""

    id: int
    login: str
    profile: str
    password: str
    salt: str | None
    iterations: int


@dataclass(frozen=True, slots=True)
class LoginGrants:
    """What a logged-in user may do."""

    rights: tuple[LoginRight, ...]
    modules: tuple[tuple[str, str, int], ...]  # (module, object type, object id)


async def load_credential(db: Database, login: str) -> LoginCredential | None:
    """The credential of the user ``login`` (one query), or None if there is no such user."""

    async def work(conn: AsyncConnection) -> LoginCredential | None:
        user = (await conn.execute(select(t_user).where(t_user.c.user_login == login))).first()
        if user is None:
            return None
        return LoginCredential(
            id=user.user_id, login=user.user_login, profile=user.user_profile,
            password=user.user_password, salt=user.user_password_salt,
            iterations=int(user.user_password_iterations or 0),
        )

    return await db.read(work)


async def load_grants(db: Database, user_id: int) -> LoginGrants:
    """The workflow and module rights of a user, in one transaction."""

    async def work(conn: AsyncConnection) -> LoginGrants:
        r = t_user_right.c
        rights = await conn.execute(
            select(t_user_right).where(r.user_id == user_id).order_by(r.workflow_id)
        )
        m = t_user_module.c
        modules = await conn.execute(
            select(m.module_name, m.user_module_type, m.user_module_object)
            .where(m.user_id == user_id, m.user_module_access != 0)
            .order_by(m.module_name, m.user_module_type, m.user_module_object)
        )
        return LoginGrants(
            rights=tuple(
                LoginRight(row.workflow_id, bool(row.user_right_read),
                           bool(row.user_right_exec), bool(row.user_right_edit),
                           bool(row.user_right_kill))
                for row in rights
            ),
            modules=tuple((row[0], row[1], int(row[2])) for row in modules),
        )

    return await db.read(work)
