"""Open sessions follow their users' current profile and rights, and close when the user is
deleted; the users are cached until module ``users`` is reloaded."""

from __future__ import annotations

import pytest
from lxml import etree

from evqueue.api import session_registry
from evqueue.api.session import Session, User
from evqueue.protocol import parse_command, serialize
from evqueue.storage.errors import DatabaseUnavailable
from tests.api.helpers import Api, b64, wf_xml


@pytest.fixture
async def api(db) -> Api:
    api = Api(db)

    async def changed(module: str) -> None:  # what the runner's reload does for users
        api.changed.append(module)
        if module == "users":
            await api.ctx.sessions.reload()

    api.ctx.changed = changed
    return api


async def as_session(api: Api, session: Session, xml: str) -> etree._Element:
    response = await api.dispatcher.dispatch(api.ctx, session, parse_command(xml))
    return etree.fromstring(serialize(response, node="node1"))


async def new_user(api: Api, name: str, profile: str) -> User:
    answer = await api.ok(f"<user action='create' name='{name}' password='pw' "
                          f"profile='{profile}'/>")
    return User(id=int(answer.get("user-id")), login=name, profile=profile)  # type: ignore[arg-type]


async def test_a_session_follows_its_users_profile_and_is_closed_once_deleted(api) -> None:
    bob = await new_user(api, "bob", "USER")
    closed: list[str] = []
    with api.ctx.sessions.opened(bob, "tcp", "10.0.0.1", closed.append) as session:
        assert (await as_session(api, session, "<users action='list'/>")).get(
            "error-code") == "INSUFFICIENT_RIGHTS"
        await api.ok(f"<user action='edit' id='{bob.id}' name='bob' profile='ADMIN'/>")
        assert (await as_session(api, session, "<users action='list'/>")).get("status") == "OK"
        await api.ok(f"<user action='edit' id='{bob.id}' name='bobby' profile='USER'/>")
        assert session.user.login == "bobby" and not session.user.is_admin
        await api.ok(f"<user action='delete' id='{bob.id}'/>")
        assert closed == ["User deleted"], "closed at once, without waiting for a command"
        answer = await as_session(api, session, "<users action='list'/>")
        assert (answer.get("error-code"), answer.get("error")) == ("AUTH_ERROR", "User deleted")
        assert closed == ["User deleted"], "closed once"
    assert len(api.ctx.sessions) == 0


async def test_a_revoked_right_applies_to_the_next_command(api) -> None:
    workflow = int((await api.ok(f"<workflow action='create' name='w' content='{b64(wf_xml())}'/>"
                                 )).get("workflow-id"))
    alice = await new_user(api, "alice", "USER")
    await api.ok(f"<user action='grant' id='{alice.id}' workflow_id='{workflow}' read='yes' "
                 "exec='no' edit='no' kill='no'/>")
    with api.ctx.sessions.opened(alice, "ws", "", lambda reason: None) as session:
        assert (await as_session(api, session, f"<workflow action='get' id='{workflow}'/>")).get(
            "status") == "OK"
        await api.ok(f"<user action='revoke' id='{alice.id}' workflow_id='{workflow}'/>")
        assert (await as_session(api, session, f"<workflow action='get' id='{workflow}'/>")).get(
            "error-code") == "INSUFFICIENT_RIGHTS"


async def test_users_are_read_once_until_a_users_reload(api, monkeypatch) -> None:
    carol = await new_user(api, "carol", "USER")
    loads: list[int] = []
    real = session_registry.load_user

    async def counting(db, user_id: int) -> User | None:  # type: ignore[no-untyped-def]
        loads.append(user_id)
        return await real(db, user_id)

    monkeypatch.setattr(session_registry, "load_user", counting)
    own = f"<user action='get' id='{carol.id}'/>"
    with api.ctx.sessions.opened(carol, "unix", "", lambda reason: None) as session:
        for _ in range(3):
            assert (await as_session(api, session, own)).get("status") == "OK"
        assert loads == [carol.id]
        await api.ctx.sessions.reload()
        assert loads == [carol.id, carol.id], "an open session is refreshed by the reload"
        await as_session(api, session, own)
        assert len(loads) == 2


async def test_rights_that_cannot_be_read_refuse_the_command(api, monkeypatch) -> None:
    dave = await new_user(api, "dave", "ADMIN")

    async def away(db, user_id: int) -> User | None:  # type: ignore[no-untyped-def]
        raise DatabaseUnavailable("connection refused")

    monkeypatch.setattr(session_registry, "load_user", away)
    with api.ctx.sessions.opened(dave, "tcp", "", lambda reason: None) as session:
        assert (await as_session(api, session, "<users action='list'/>")).get(
            "error-code") == "SQL_ERROR"


async def test_sessions_not_opened_here_are_not_checked(api) -> None:
    ghost = Session(User(id=424242, login="ghost", profile="ADMIN"))
    assert (await as_session(api, ghost, "<users action='list'/>")).get("status") == "OK"
