"""What a login reads: credential columns and profile, then workflow and module rights."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from evqueue.storage.api_support import LoginRight, load_credential, load_grants
from evqueue.storage.database import Database
from evqueue.storage.tables import t_user
from evqueue.storage.users import create_user, grant_module_right, hash_password, set_right

pytestmark = pytest.mark.backends


async def test_unknown_login(db: Database) -> None:
    assert await load_credential(db, "nobody") is None


async def test_plain_credential_and_rights(db: Database) -> None:
    user_id = await create_user(db, "bob", "pw", "USER")
    await set_right(db, user_id, 5, edit=True, read=True, exec=False, kill=False)
    await set_right(db, user_id, 2, edit=False, read=True, exec=True, kill=True)
    await grant_module_right(db, user_id, "storage", "launcher", 8)
    credential = await load_credential(db, "bob")
    assert credential is not None
    assert (credential.id, credential.login, credential.profile) == (user_id, "bob", "USER")
    assert (credential.password, credential.salt, credential.iterations) == (
        hash_password("pw"), None, 0)
    grants = await load_grants(db, user_id)
    assert grants.rights == (LoginRight(2, read=True, exec=True, edit=False, kill=True),
                             LoginRight(5, read=True, exec=False, edit=True, kill=False))
    assert grants.modules == (("storage", "launcher", 8),)


async def test_wrapped_credential_columns(db: Database) -> None:
    await db.execute(update(t_user).where(t_user.c.user_login == "admin").values(
        user_password="ab" * 20, user_password_salt="cd" * 20, user_password_iterations=7))
    credential = await load_credential(db, "admin")
    assert credential is not None
    assert (credential.password, credential.salt, credential.iterations, credential.profile) == (
        "ab" * 20, "cd" * 20, 7, "ADMIN")
    grants = await load_grants(db, credential.id)
    assert grants.rights == () and grants.modules == ()
