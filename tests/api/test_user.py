"""``user`` / ``users``: accounts and rights through the API, on every backend."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from evqueue.api import user, workflow
from evqueue.api.session import User
from evqueue.config import Config
from evqueue.protocol import hmac_key_from_stored, new_secret, parse_secret, password_key
from evqueue.storage import users as store
from evqueue.storage.tables import t_user
from tests.api.helpers import Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends


async def credential(db, user_id: int) -> tuple[str, str | None, int]:
    row = await db.fetch_one(select(t_user).where(t_user.c.user_id == user_id))
    return row.user_password, row.user_password_salt, row.user_password_iterations


@pytest.fixture
async def api(db):
    api = Api(db, [user, workflow])
    api.ids["admin"] = (await store.get_user_by_login(db, "admin")).id
    root = await api.ok(f"<workflow action='create' name='w' content='{b64(wf_xml())}'/>")
    api.ids["w"] = int(root.get("workflow-id"))
    api.changed.clear()
    return api


def admin(api: Api) -> User:
    return User(id=api.ids["admin"], login="admin", profile="ADMIN")


async def test_lifecycle(api: Api, db) -> None:
    me = admin(api)
    root = await api.ok("<user action='create' name='bob' password='secret' profile='USER'/>",
                        as_user=me)
    bob = int(root.get("user-id"))
    assert await credential(db, bob) == (hashlib.sha1(b"secret").hexdigest(), None, 0)

    wid = api.ids["w"]
    await api.ok(f"<user action='grant' name='bob' workflow_id='{wid}' edit='no' read='yes' "
                 "exec='1' kill='0'/>", as_user=me)
    assert await api.raw(f"<user action='get' id='{bob}'/>", as_user=me) == (
        f'<response node="node1" status="OK"><user id="{bob}" name="bob" preferences="" '
        f'profile="USER"><right edit="no" exec="yes" kill="no" read="yes" workflow-id="{wid}"/>'
        "</user></response>"
    ).encode()
    rights = await api.ok("<user action='list_rights' name='bob'/>", as_user=me)
    assert [dict(r.attrib) for r in rights] == [
        {"workflow-id": str(wid), "read": "yes", "edit": "no", "exec": "yes", "kill": "no"}]

    await store.grant_module_right(db, bob, "storage", "launcher", 7)
    module_rights = await api.ok(
        "<user action='list_module_rights' name='bob' module='storage' type='launcher'/>",
        as_user=me)
    assert [dict(r.attrib) for r in module_rights] == [{"object-id": "7", "right": "yes"}]
    assert len(await api.ok("<user action='list_module_rights' name='bob' module='storage' "
                            "type='display'/>", as_user=me)) == 0

    await api.ok(f"<user action='edit' id='{bob}' name='robert' profile='ADMIN'/>", as_user=me)
    row = await store.get_user(db, bob)
    assert (row.login, row.profile, row.password) == (
        "robert", "ADMIN", hashlib.sha1(b"secret").hexdigest())
    await api.ok(f"<user action='edit' id='{bob}' name='robert' profile='USER' "
                 "password='new'/>", as_user=me)
    assert (await store.get_user(db, bob)).password == hashlib.sha1(b"new").hexdigest()
    await api.ok("<user action='change_password' name='robert' password='p2'/>", as_user=me)
    assert (await store.get_user(db, bob)).password == hashlib.sha1(b"p2").hexdigest()
    await api.ok("<user action='update_preferences' name='robert' "
                 "preferences='{&quot;preferred_node&quot;:&quot;node2&quot;}'/>", as_user=me)
    got = (await api.ok("<user action='get' name='robert'/>", as_user=me))[0]
    assert got.get("preferences") == '{"preferred_node":"node2"}'

    await api.ok(f"<user action='revoke' id='{bob}' workflow_id='{wid}'/>", as_user=me)
    await api.ko(f"<user action='revoke' id='{bob}' workflow_id='{wid}'/>", "ALREADY_NO_RIGHTS",
                 "No right found on that workflow", as_user=me)
    await store.set_right(db, bob, wid, edit=True, read=True, exec=True, kill=True)
    await api.ok("<user action='clear_rights' name='robert'/>", as_user=me)
    assert await store.list_rights(db, bob) == []

    listed = await api.ok("<users action='list'/>", as_user=me)
    assert [dict(n.attrib) for n in listed] == [
        {"id": str(api.ids["admin"]), "name": "admin", "profile": "ADMIN"},
        {"id": str(bob), "name": "robert", "profile": "USER"},
    ]
    await api.ok("<user action='delete' name='robert'/>", as_user=me)
    assert await store.get_user(db, bob) is None
    assert api.changed == ["users"] * 9


async def test_passwords_are_wrapped_with_the_auth_secret(db, tmp_path) -> None:
    secret_file = tmp_path / "auth.secret"
    secret_file.write_text(new_secret() + "\n")
    api = Api(db, [user], cfg=Config.from_mapping({"core.auth.secret": str(secret_file)}))
    secret = parse_secret(secret_file.read_text())
    bob = int((await api.ok("<user action='create' name='bob' password='pw' profile='USER'/>"))
              .get("user-id"))
    stored = await credential(db, bob)
    assert stored[2] > 0 and stored[1] is not None
    assert stored[0] != password_key("pw").hex()
    assert hmac_key_from_stored(*stored, secret) == password_key("pw")
    await api.ok(f"<user action='change_password' id='{bob}' password='other'/>")
    assert hmac_key_from_stored(*await credential(db, bob), secret) == password_key("other")
    await api.ok(f"<user action='edit' id='{bob}' name='bob' profile='USER' password='third'/>")
    assert hmac_key_from_stored(*await credential(db, bob), secret) == password_key("third")

    broken = Api(db, [user], cfg=Config.from_mapping(
        {"core.auth.secret": str(tmp_path / "missing")}))
    root = await broken.ko("<user action='create' name='eve' password='pw' profile='USER'/>", None)
    assert "auth secret" in root.get("error")
    assert await store.get_user_by_login(db, "eve") is None


async def test_errors(api: Api, db) -> None:
    me = admin(api)
    bob = await store.create_user(db, "bob", "pw", "USER")
    wid = api.ids["w"]
    cases = [
        ("<user action='create' password='p' profile='USER'/>", "MISSING_PARAMETER",
         "Missing 'name' attribute"),
        ("<user action='create' name='x' password='p'/>", "MISSING_PARAMETER",
         "Missing 'profile' attribute"),
        ("<user action='create' name='a b' password='p' profile='USER'/>", "INVALID_PARAMETER",
         "Invalid user name"),
        (f"<user action='create' name='{'u' * 33}' password='p' profile='USER'/>",
         "INVALID_PARAMETER", "Invalid user name"),
        ("<user action='create' name='x' password='p' profile='ROOT'/>", "INVALID_PARAMETER",
         "Invalid profile, should be 'ADMIN' or 'USER'"),
        ("<user action='create' name='x' profile='USER'/>", "INVALID_PARAMETER",
         "Empty password"),
        ("<user action='create' name='bob' password='p' profile='USER'/>", "INVALID_PARAMETER",
         "User name 'bob' already exists"),
        ("<user action='get'/>", "MISSING_PARAMETER", "Missing 'id' or 'name' attribute"),
        ("<user action='get' id='999999'/>", "UNKNOWN_OBJECT", "Unknown User ID : 999999"),
        ("<user action='get' name='nobody'/>", "UKNOWN_OBJECT", "Unknown User name : nobody"),
        ("<user action='get' id='x'/>", "INVALID_INTEGER",
         "Attribute 'id' has invalid integer value"),
        ("<user action='edit' id='999999' name='x' profile='USER'/>", "UNKNOWN_USER",
         "User not found"),
        (f"<user action='edit' id='{bob}' name='admin' profile='USER'/>", "INVALID_PARAMETER",
         "User name 'admin' already exists"),
        ("<user action='change_password' id='999999' password='x'/>", "UNKNOWN_USER",
         "User not found"),
        (f"<user action='change_password' id='{bob}'/>", "MISSING_PARAMETER",
         "Missing 'password' attribute"),
        (f"<user action='change_password' id='{bob}' password=''/>", "INVALID_PARAMETER",
         "Invalid password"),
        ("<user action='update_preferences' id='999999' preferences=''/>", "UNKNOWN_USER",
         "User not found"),
        ("<user action='delete' id='999999'/>", "UNKNOWN_USER", "User not found"),
        ("<user action='clear_rights' id='999999'/>", "UNKNOWN_USER", "User not found"),
        ("<user action='list_rights' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown User ID : 999999"),
        (f"<user action='list_module_rights' id='{bob}' module='storage'/>",
         "MISSING_PARAMETER", "Missing 'type' attribute"),
        (f"<user action='grant' id='{bob}' workflow_id='{wid}' edit='no' read='yes' exec='no'/>",
         "MISSING_PARAMETER", "Missing 'kill' attribute"),
        (f"<user action='grant' id='{bob}' workflow_id='{wid}' edit='no' read='sure' exec='no' "
         "kill='no'/>", "INVALID_BOOLEAN", "Attribute 'read' has invalid boolean value"),
        (f"<user action='grant' id='{bob}' workflow_id='999999' edit='no' read='no' exec='no' "
         "kill='no'/>", "UNKNOWN_WORKFLOW", "Workflow not found"),
        (f"<user action='grant' id='999999' workflow_id='{wid}' edit='no' read='no' exec='no' "
         "kill='no'/>", "UNKNOWN_USER", "User not found"),
        (f"<user action='revoke' id='{bob}'/>", "MISSING_PARAMETER",
         "Missing 'workflow_id' attribute"),
        # Our refusals: an administrator cannot lock everyone out.
        (f"<user action='delete' id='{api.ids['admin']}'/>", "INVALID_PARAMETER",
         "You cannot delete yourself"),
        (f"<user action='edit' id='{api.ids['admin']}' name='admin' profile='USER'/>",
         "INVALID_PARAMETER", "Cannot remove the ADMIN profile of the last administrator"),
        ("<user action='nope' id='1'/>", "UNKNOWN_COMMAND", "Unknown command or action"),
    ]
    for xml, code, message in cases:
        await api.ko(xml, code, message, as_user=me)
    # Another administrator cannot delete the last ADMIN either.
    other_admin = User(id=bob, login="bob", profile="ADMIN")
    await api.ko("<user action='delete' name='admin'/>", "INVALID_PARAMETER",
                 "Cannot delete the last administrator", as_user=other_admin)
    assert api.changed == []


async def test_rights(api: Api, db) -> None:
    bob_id = await store.create_user(db, "bob", "pw", "USER")
    other = await store.create_user(db, "carol", "pw", "USER")
    bob = plain_user(bob_id)
    # Allowed on yourself only.
    await api.ok("<user action='get' name='bob'/>", as_user=bob)
    await api.ok(f"<user action='change_password' id='{bob_id}' password='n'/>", as_user=bob)
    await api.ok("<user action='update_preferences' name='bob' preferences='x'/>", as_user=bob)
    wid = api.ids["w"]
    refused = [
        "<user action='get' name='carol'/>",
        f"<user action='change_password' id='{other}' password='n'/>",
        "<user action='update_preferences' name='carol' preferences='x'/>",
        "<user action='create' name='x' password='p' profile='ADMIN'/>",
        f"<user action='edit' id='{bob_id}' name='bob' profile='ADMIN'/>",
        f"<user action='delete' id='{other}'/>",
        f"<user action='clear_rights' id='{bob_id}'/>",
        f"<user action='list_rights' id='{bob_id}'/>",
        f"<user action='list_module_rights' id='{bob_id}' module='storage' type='launcher'/>",
        f"<user action='grant' id='{bob_id}' workflow_id='{wid}' edit='yes' read='yes' "
        "exec='yes' kill='yes'/>",
        f"<user action='revoke' id='{bob_id}' workflow_id='{wid}'/>",
        "<users action='list'/>",
        "<users action='whatever'/>",
    ]
    for xml in refused:
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=bob)
    assert (await store.get_user(db, other)).password == hashlib.sha1(b"pw").hexdigest()
