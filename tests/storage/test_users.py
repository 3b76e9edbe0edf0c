"""Users, workflow rights, module rights, preferences."""

from __future__ import annotations

import hashlib

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.users import (
    UserRight,
    clear_rights,
    create_user,
    delete_user,
    get_user,
    get_user_by_login,
    grant_module_right,
    hash_password,
    list_module_rights,
    list_rights,
    list_users,
    revoke_module_object,
    revoke_module_right,
    revoke_right,
    set_password,
    set_preferences,
    set_right,
    update_user,
)

pytestmark = pytest.mark.backends


def test_hash_password_is_sha1_hex() -> None:
    assert hash_password("admin") == hashlib.sha1(b"admin").hexdigest()


async def test_user_lifecycle(db: Database) -> None:
    user_id = await create_user(db, "alice", "secret", "USER")
    user = await get_user(db, user_id)
    assert user is not None
    assert (user.login, user.password, user.profile, user.preferences) == (
        "alice", hash_password("secret"), "USER", "",
    )
    assert await get_user_by_login(db, "alice") == user
    assert [u.login for u in await list_users(db)] == ["admin", "alice"]

    assert await update_user(db, user_id, "alicia", "ADMIN")
    unchanged_password = await get_user(db, user_id)
    assert unchanged_password is not None and unchanged_password.password == user.password
    assert await update_user(db, user_id, "alicia", "ADMIN", password="new")
    assert await set_preferences(db, user_id, '{"preferred_node":"node1"}')
    changed = await get_user(db, user_id)
    assert changed is not None
    assert (changed.login, changed.profile, changed.password, changed.preferences) == (
        "alicia", "ADMIN", hash_password("new"), '{"preferred_node":"node1"}',
    )
    assert await set_password(db, user_id, "third")
    assert (await get_user(db, user_id)).password == hash_password("third")  # type: ignore[union-attr]

    assert await delete_user(db, user_id)
    assert await get_user(db, user_id) is None
    assert not await delete_user(db, user_id)
    assert not await set_password(db, user_id, "x")


async def test_logins_are_unique(db: Database) -> None:
    with pytest.raises(DuplicateName):
        await create_user(db, "admin", "x")
    bob = await create_user(db, "bob", "x")
    with pytest.raises(DuplicateName):
        await update_user(db, bob, "admin", "USER")


async def test_workflow_rights(db: Database) -> None:
    user_id = await create_user(db, "alice", "pw")
    await set_right(db, user_id, 1, edit=False, read=True, exec=True, kill=False)
    await set_right(db, user_id, 2, edit=True, read=True, exec=False, kill=True)
    await set_right(db, user_id, 1, edit=False, read=True, exec=False, kill=False)  # replaces
    assert await list_rights(db, user_id) == [
        UserRight(user_id, 1, edit=False, read=True, exec=False, kill=False),
        UserRight(user_id, 2, edit=True, read=True, exec=False, kill=True),
    ]
    assert await revoke_right(db, user_id, 2)
    assert not await revoke_right(db, user_id, 2)
    assert [r.workflow_id for r in await list_rights(db)] == [1]
    assert await clear_rights(db, user_id) == 1
    assert await list_rights(db, user_id) == []


async def test_module_rights(db: Database) -> None:
    alice = await create_user(db, "alice", "pw")
    bob = await create_user(db, "bob", "pw")
    await grant_module_right(db, alice, "storage", "launcher", 3)
    await grant_module_right(db, alice, "storage", "launcher", 3)  # idempotent
    await grant_module_right(db, alice, "storage", "launcher", 4)
    await grant_module_right(db, bob, "storage", "launcher", 3)
    rights = await list_module_rights(db, alice, "storage", "launcher")
    assert [(r.object_id, r.access) for r in rights] == [(3, 1), (4, 1)]
    assert await revoke_module_right(db, alice, "storage", "launcher", 4)
    assert not await revoke_module_right(db, alice, "storage", "launcher", 4)
    assert await revoke_module_object(db, "storage", "launcher", 3) == 2
    assert await list_module_rights(db) == []


async def test_deleting_a_user_deletes_its_rights(db: Database) -> None:
    alice = await create_user(db, "alice", "pw")
    await set_right(db, alice, 1, edit=True, read=True, exec=True, kill=True)
    await grant_module_right(db, alice, "storage", "launcher", 1)
    await delete_user(db, alice)
    assert await list_rights(db) == []
    assert await list_module_rights(db) == []
