"""What a login reads: credential columns, profile, workflow and module rights."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from evqueue.storage.api_support import LoginRight, load_login
from evqueue.storage.database import Database
from evqueue.storage.tables import t_user
from evqueue.storage.users import create_user, grant_module_right, hash_password, set_right

pytestmark = pytest.mark.backends


async def test_unknown_login(db: Database) -> None:
    assert await load_login(db, "nobody") is None


async def test_plain_credential_and_rights(db: Database) -> None:
    user_id = await create_user(db, "bob", "pw", "USER")
    await set_right(db, user_id, 5, edit=True, read=True, exec=False, kill=False)
    await set_right(db, user_id, 2, edit=False, read=True, exec=True, kill=True)
    await grant_module_right(db, user_id, "storage", "launcher", 8)
    record = await load_login(db, "bob")
    assert record is not None
    assert (record.id, record.login, record.profile) == (user_id, "bob", "USER")
    assert (record.password, record.salt, record.iterations) == (hash_password("pw"), None, 0)
    assert record.rights == (LoginRight(2, read=True, exec=True, edit=False, kill=True),
                             LoginRight(5, read=True, exec=False, edit=True, kill=False))
    assert record.modules == (("storage", "launcher", 8),)


async def test_wrapped_credential_columns(db: Database) -> None:
    await db.execute(update(t_user).where(t_user.c.user_login == "admin").values(
        user_password="ab" * 20, user_password_salt="cd" * 20, user_password_iterations=7))
    record = await load_login(db, "admin")
    assert record is not None
    assert (record.password, record.salt, record.iterations, record.profile) == (
        "ab" * 20, "cd" * 20, 7, "ADMIN")
    assert record.rights == () and record.modules == ()
