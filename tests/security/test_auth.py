"""Authentication against guessing, replay and timing, over real sockets and by inspection.

- Brute force: after 10 failures from one address, that address is refused even with the right
  password, while other clients (the unix socket) still log in.
- Replay: every connection gets a fresh challenge; a response seen on one connection is refused
  on any other.
- Timing: the HMAC is compared with ``hmac.compare_digest``, and an unknown user costs exactly
  what a wrong password costs (one HMAC verification; with a secret, one key unwrapping each;
  the same statements sent to the store).
"""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest
from sqlalchemy import event

import evqueue.api.login as login_module
from evqueue.api.login import THROTTLED_MESSAGE, Authenticator
from evqueue.config import Config
from evqueue.protocol import AuthError, Command, hash_password, verify_response
from evqueue.storage.api_definitions import create_user_with_password
from evqueue.storage.users import create_user, grant_module_right, set_right
from tests.e2e.apiwire import Wire, answer
from tests.e2e.nodes import Node

INVALID = "Invalid authentication"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("auth"), settings={"network.connections.max": "256"})
    node.start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


def refusal(wire: Wire) -> str:
    """The error of the KO the node sends before closing."""
    message = wire.message().decode()
    assert wire.closed(), "a refused login closes the connection"
    found = re.search(r'error="([^"]*)"', message)
    assert found and 'error-code="AUTH_ERROR"' in message, message
    return found.group(1)


def test_every_connection_gets_a_fresh_challenge(node):
    seen: set[str] = set()
    held = [Wire(node, "tcp" if i % 2 else "unix") for i in range(40)]  # open at once
    try:
        seen |= {wire.challenge() for wire in held}
    finally:
        for wire in held:
            wire.close()
    for _ in range(160):  # and one after another
        with Wire(node, "unix") as wire:
            seen.add(wire.challenge())
    assert len(seen) == 200
    assert all(re.fullmatch(r"[0-9a-f]{40}", challenge) for challenge in seen)


def test_a_response_is_only_good_for_its_own_connection(node):
    with Wire(node, "unix") as first, Wire(node, "unix") as second:
        first_challenge, second_challenge = first.challenge(), second.challenge()
        response = answer(first_challenge, "admin")
        second.send(f"<auth response='{response}' user='admin'/>")
        assert refusal(second) == INVALID
        first.send(f"<auth response='{response}' user='admin'/>")
        assert b"<ready" in first.message()
        assert first_challenge != second_challenge
    with Wire(node, "unix") as later:  # replayed after a successful login
        later.challenge()
        later.send(f"<auth response='{response}' user='admin'/>")
        assert refusal(later) == INVALID


def test_the_password_hash_alone_is_not_a_response(node):
    # What a sniffer of an old login, or a reader of the user table, would try.
    with Wire(node, "unix") as wire:
        wire.challenge()
        wire.send(f"<auth response='{hashlib.sha1(b'admin').hexdigest()}' user='admin'/>")
        assert refusal(wire) == INVALID


def test_one_address_guessing_is_locked_out_and_others_are_not(tmp_path):
    node = Node(tmp_path / "throttled").start()
    try:
        for attempt in range(10):  # ten wrong guesses from 127.0.0.1, on ten names
            with Wire(node, "tcp") as wire:
                challenge = wire.challenge()
                wire.send(f"<auth response='{answer(challenge, 'guess')}' user='u{attempt}'/>")
                assert refusal(wire) == INVALID
        with Wire(node, "tcp") as wire:  # now even the right password is refused
            challenge = wire.challenge()
            wire.send(f"<auth response='{answer(challenge, 'admin')}' user='admin'/>")
            assert refusal(wire) == THROTTLED_MESSAGE
        with Wire(node, "unix") as wire:
            assert b'profile="ADMIN"' in wire.login()
        assert "too many failures for peer:127.0.0.1" in node.output()
    finally:
        node.stop()
        node.remove_ipc_queue()


# --- by inspection ---------------------------------------------------------------------------


def test_the_hmac_is_compared_in_constant_time(monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    key = hashlib.sha1(b"pw").digest()
    challenge = "ab" * 20
    good = hmac.new(key, bytes.fromhex(challenge), hashlib.sha1).hexdigest()
    assert verify_response(good, challenge, key)
    wrong_last = good[:-1] + ("0" if good[-1] != "0" else "1")
    wrong_first = ("0" if good[0] != "0" else "1") + good[1:]
    assert not verify_response(wrong_last, challenge, key)
    assert not verify_response(wrong_first, challenge, key)
    assert len(calls) == 3, "every well-formed response goes through compare_digest"
    assert not verify_response("hmac", challenge, key)  # refused on its shape, no compare
    assert not verify_response(good.upper(), challenge, key)
    assert len(calls) == 3


def _auth(user: str, password: str, challenge: str = "cd" * 20) -> Command:
    key = hashlib.sha1(password.encode()).digest()
    response = hmac.new(key, bytes.fromhex(challenge), hashlib.sha1).hexdigest()
    return Command.build("auth", {"user": user, "response": response})


async def _failures(authenticator: Authenticator, user: str, password: str) -> None:
    with pytest.raises(AuthError) as refused:
        await authenticator.authenticate(_auth(user, password), "cd" * 20, "")
    assert refused.value.message == INVALID


@pytest.fixture
def counted(monkeypatch):
    """Counts of HMAC verifications and of PBKDF2 runs (key unwrappings)."""
    counts = {"verify": 0, "pbkdf2": 0}
    real_verify, real_pbkdf2 = login_module.verify_response, hashlib.pbkdf2_hmac

    def verify(*args):
        counts["verify"] += 1
        return real_verify(*args)

    def pbkdf2(*args, **kwargs):
        counts["pbkdf2"] += 1
        return real_pbkdf2(*args, **kwargs)

    monkeypatch.setattr(login_module, "verify_response", verify)
    monkeypatch.setattr(hashlib, "pbkdf2_hmac", pbkdf2)
    return counts


async def test_an_unknown_user_costs_one_verification_like_a_wrong_password(db, counted):
    await create_user(db, "known", "right")
    authenticator = Authenticator(Config.from_mapping({}), db)
    for user in ("known", "nobody"):
        counted.update(verify=0, pbkdf2=0)
        await _failures(authenticator, user, "wrong")
        assert counted == {"verify": 1, "pbkdf2": 0}, user


async def test_with_a_secret_every_login_unwraps_exactly_one_key(db, counted):
    secret = bytes(range(32))
    wrapped = hash_password("right", secret=secret, iterations=1000)
    await create_user_with_password(db, "wrapped", "USER", password=wrapped.password,
                                    salt=wrapped.salt, iterations=wrapped.iterations)
    await create_user(db, "plain", "right")
    authenticator = Authenticator(Config.from_mapping({}), db, secret=secret)
    for user, password in (("wrapped", "wrong"), ("plain", "wrong"), ("nobody", "wrong")):
        counted.update(verify=0, pbkdf2=0)
        await _failures(authenticator, user, password)
        assert counted == {"verify": 1, "pbkdf2": 1}, user
    for user in ("wrapped", "plain"):
        counted.update(verify=0, pbkdf2=0)
        logged_in = await authenticator.authenticate(_auth(user, "right"), "cd" * 20, "")
        assert logged_in.login == user
        assert counted == {"verify": 1, "pbkdf2": 1}, user


async def test_an_unknown_user_costs_the_store_what_a_wrong_password_costs(db):
    user_id = await create_user(db, "known", "right")
    await set_right(db, user_id, 1, edit=False, read=True, exec=False, kill=False)
    await grant_module_right(db, user_id, "storage", "launcher", 1)
    authenticator = Authenticator(Config.from_mapping({}), db)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        statements.append(" ".join(statement.split()))

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        sent: dict[str, list[str]] = {}
        for user in ("known", "nobody"):
            statements.clear()
            await _failures(authenticator, user, "wrong")
            sent[user] = list(statements)
        statements.clear()
        await authenticator.authenticate(_auth("known", "right"), "cd" * 20, "")
        on_success = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert sent["known"] == sent["nobody"]
    assert [s.split()[0] for s in sent["known"]] == ["SELECT"]  # the user's row, nothing more
    assert on_success == 3  # and the rights once the response is verified
