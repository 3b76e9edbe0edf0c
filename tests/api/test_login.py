"""The login handshake against a real store: messages, errors, both password formats, throttle."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import pytest
from lxml import etree
from sqlalchemy import update

from evqueue.api.login import (
    THROTTLED_MESSAGE,
    Authenticator,
    LoginThrottle,
    load_secret,
    modules_served,
)
from evqueue.api.session import WorkflowRights
from evqueue.config import Config
from evqueue.protocol import ApiError, AuthError, Command, MissingParameter, hash_password
from evqueue.storage.database import Database
from evqueue.storage.tables import t_user
from evqueue.storage.users import create_user, grant_module_right, set_right

CHALLENGE = "0123456789abcdef0123456789abcdef01234567"
SECRET = bytes(range(32))


def respond(password: str, challenge: str = CHALLENGE) -> str:
    key = hashlib.sha1(password.encode()).digest()
    return hmac.new(key, bytes.fromhex(challenge), hashlib.sha1).hexdigest()


def auth(user: str, response: str) -> Command:
    return Command.build("auth", {"response": response, "user": user})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(db: Database, *, secret: bytes | None = None, throttle: LoginThrottle | None = None,
         clock: Clock | None = None, **settings: str) -> Authenticator:
    cfg = Config.from_mapping({"cluster.node.name": "node1", **settings})
    return Authenticator(cfg, db, secret=secret, modules=["storage"], throttle=throttle,
                         clock=clock or Clock(),
                         wall_clock=lambda: datetime(2026, 11, 27, 17, 25, 47))


async def store_wrapped(db: Database, login: str, password: str, secret: bytes) -> None:
    stored = hash_password(password, secret=secret, iterations=1000)
    await db.execute(update(t_user).where(t_user.c.user_login == login).values(
        user_password=stored.password, user_password_salt=stored.salt,
        user_password_iterations=stored.iterations))


async def test_challenge_and_greeting_messages(db):
    authenticator = make(db)
    assert authenticator.enabled
    challenge = authenticator.new_challenge()
    assert len(challenge) == 40 and int(challenge, 16) >= 0
    assert challenge != authenticator.new_challenge()
    assert authenticator.challenge(CHALLENGE) == (
        b'<auth challenge="0123456789abcdef0123456789abcdef01234567" node="node1" status="OK"/>')
    user = await authenticator.authenticate(auth("admin", respond("admin")), CHALLENGE)
    assert authenticator.greeting(user) == (
        b'<ready node="node1" profile="ADMIN" status="OK" time="2026-11-27 17:25:47"'
        b' version="3.3"><modules><module name="storage" version="3.3"/></modules></ready>')


async def test_disabled_authentication_gives_the_anonymous_admin(db):
    authenticator = make(db, **{"core.auth.enable": "no"})
    assert not authenticator.enabled
    user = authenticator.anonymous()
    assert (user.login, user.profile, user.id) == ("anonymous", "ADMIN", None)


async def test_user_is_loaded_with_its_rights(db):
    user_id = await create_user(db, "bob", "secret", "USER")
    await set_right(db, user_id, 7, edit=False, read=True, exec=True, kill=False)
    await grant_module_right(db, user_id, "storage", "launcher", 3)
    user = await make(db).authenticate(auth("bob", respond("secret")), CHALLENGE, "10.0.0.1")
    assert (user.id, user.login, user.profile) == (user_id, "bob", "USER")
    assert user.rights == {7: WorkflowRights(read=True, exec=True)}
    assert user.can(7, "exec") and not user.can(7, "kill") and not user.can(8, "read")
    assert user.can_module("storage", "launcher", 3)
    assert not user.can_module("storage", "launcher", 4)


@pytest.mark.parametrize(("user", "response"), [
    ("admin", respond("wrong")),
    ("nobody", respond("admin")),
    ("admin", "hmac"),
    ("admin", respond("admin").upper()),
    ("admin", respond("admin", "f" * 40)),
    ("admin", ""),
])
async def test_every_bad_answer_is_invalid_authentication(db, user, response):
    with pytest.raises(AuthError) as caught:
        await make(db).authenticate(auth(user, response), CHALLENGE)
    assert (caught.value.message, caught.value.code, caught.value.fatal) == (
        "Invalid authentication", "AUTH_ERROR", True)


async def test_first_message_must_be_auth(db):
    with pytest.raises(AuthError, match="Expected 'auth' node"):
        await make(db).authenticate(Command.build("ping"), CHALLENGE)


@pytest.mark.parametrize(("attrs", "missing"), [
    ({"user": "admin"}, "response"),
    ({"response": "x"}, "user"),
    ({}, "response"),
])
async def test_missing_attribute_is_a_fatal_missing_parameter(db, attrs, missing):
    with pytest.raises(MissingParameter) as caught:
        await make(db).authenticate(Command.build("auth", attrs), CHALLENGE)
    assert caught.value.message == f"Missing '{missing}' attribute"
    assert caught.value.fatal


async def test_wrapped_password_needs_the_same_secret(db):
    await store_wrapped(db, "admin", "admin", SECRET)
    right = auth("admin", respond("admin"))
    user = await make(db, secret=SECRET).authenticate(right, CHALLENGE)
    assert user.login == "admin"
    for secret in (None, bytes(32)):
        with pytest.raises(AuthError, match="Invalid authentication"):
            await make(db, secret=secret).authenticate(right, CHALLENGE)


async def test_plain_password_still_works_on_a_node_with_a_secret(db):
    user = await make(db, secret=SECRET).authenticate(auth("admin", respond("admin")), CHALLENGE)
    assert user.profile == "ADMIN"


async def test_failures_lock_a_name_for_a_while(db):
    clock = Clock()
    authenticator = make(db, throttle=LoginThrottle(max_failures=3, window=60, lockout=30),
                         clock=clock)
    for _ in range(3):
        with pytest.raises(AuthError, match="Invalid authentication"):
            await authenticator.authenticate(auth("admin", "0" * 40), CHALLENGE)
    with pytest.raises(AuthError) as caught:
        await authenticator.authenticate(auth("admin", respond("admin")), CHALLENGE)
    assert (caught.value.message, caught.value.code) == (THROTTLED_MESSAGE, "AUTH_ERROR")
    clock.now += 30
    user = await authenticator.authenticate(auth("admin", respond("admin")), CHALLENGE)
    assert user.login == "admin"


async def test_failures_from_one_address_lock_it_for_every_name(db):
    clock = Clock()
    authenticator = make(db, throttle=LoginThrottle(max_failures=3, window=60, lockout=30),
                         clock=clock)
    for name in ("a", "b", "c"):
        with pytest.raises(AuthError):
            await authenticator.authenticate(auth(name, "0" * 40), CHALLENGE, "10.0.0.9")
    good = auth("admin", respond("admin"))
    with pytest.raises(AuthError, match=THROTTLED_MESSAGE):
        await authenticator.authenticate(good, CHALLENGE, "10.0.0.9")
    assert (await authenticator.authenticate(good, CHALLENGE, "10.0.0.10")).login == "admin"
    # a unix-socket peer has no address: only names are counted
    assert (await authenticator.authenticate(good, CHALLENGE, "")).login == "admin"


def test_throttle_forgets_failures_outside_the_window():
    throttle = LoginThrottle(max_failures=2, window=10, lockout=5)
    throttle.failed("u", "p", 0)
    throttle.failed("u", "p", 11)
    assert not throttle.blocked("u", "p", 11)
    throttle.failed("u", "p", 12)
    assert throttle.blocked("u", "p", 12)
    assert throttle.blocked("other", "p", 12), "the address is locked too"
    assert not throttle.blocked("u", "p", 17)


def test_success_clears_the_name_but_not_the_address():
    throttle = LoginThrottle(max_failures=2, window=10, lockout=5)
    throttle.failed("u", "p", 0)
    throttle.succeeded("u")
    throttle.failed("u", "q", 1)
    assert not throttle.blocked("u", "q", 1)
    throttle.failed("v", "p", 2)
    assert throttle.blocked("w", "p", 2)


def test_load_secret(tmp_path):
    assert load_secret(Config.from_mapping({})) is None
    path = tmp_path / "secret"
    path.write_text(SECRET.hex() + "\n")
    cfg = Config.from_mapping({"core.auth.secret": str(path)})
    assert load_secret(cfg) == SECRET
    path.write_text("not hex")
    with pytest.raises(ValueError, match="core.auth.secret: .* does not hold a hex secret"):
        load_secret(cfg)
    missing = Config.from_mapping({"core.auth.secret": str(tmp_path / "nope")})
    with pytest.raises(ValueError, match="core.auth.secret: cannot read"):
        load_secret(missing)


def test_modules_served_follow_the_command_groups():
    assert modules_served(["ping", "storage", "git", "workflow"]) == ["git", "storage"]
    assert modules_served(["ping"]) == []


def test_auth_error_response_is_the_captured_one():
    error: ApiError = AuthError()
    from evqueue.protocol import error_response

    assert etree.fromstring(error_response(error, "node1")).attrib == {
        "error": "Invalid authentication", "error-code": "AUTH_ERROR", "node": "node1",
        "status": "KO"}
