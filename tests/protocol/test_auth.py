"""Challenge-response authentication (protocol.md §2) and password storage."""

from __future__ import annotations

import hashlib

import pytest

from evqueue.errors import AuthError, CredentialError
from evqueue.protocol.auth import (
    DEFAULT_ITERATIONS,
    StoredPassword,
    compute_response,
    generate_challenge,
    hash_password,
    hmac_key_from_stored,
    key_from_hex,
    new_secret,
    parse_secret,
    password_key,
    verify_response,
)

ADMIN_SHA1 = "d033e22ae348aeb5660fc2140aec35850c4da997"
CHALLENGE = "0123456789abcdef0123456789abcdef01234567"
RESPONSE = "8c201efd7d0c1be0949953033b755e2f35cb9c17"
SECRET = bytes(range(32))


# --- the exchange -----------------------------------------------------------------------------


def test_worked_example() -> None:
    # protocol.md §2.2, verified against evQueue's own cluster client.
    key = password_key("admin")
    assert key.hex() == ADMIN_SHA1
    assert compute_response(CHALLENGE, key) == RESPONSE
    assert verify_response(RESPONSE, CHALLENGE, key)


@pytest.mark.parametrize(
    ("challenge", "response"),
    [
        # protocol.md §9 E1 (TCP) and E9 (websocket), admin / admin.
        ("81129f065dd1513ebc4af8ef528f020933aba601", "1ccd28fe94653bfad3985c9d0724c79b1bd1638b"),
        ("7711d4bae71f743c59fe5ce7eedf8f19c980ea8e", "361dc67051ba92712ec10000ba5b5b8fe380b451"),
    ],
)
def test_captured_exchanges(challenge: str, response: str) -> None:
    assert verify_response(response, challenge, password_key("admin"))


def test_clients_configured_with_the_sha1_hex() -> None:
    # The C++ client, cluster.notify.password and the JS client hold SHA1(password) in hex.
    assert key_from_hex(ADMIN_SHA1) == password_key("admin")
    assert key_from_hex(ADMIN_SHA1.upper()) == password_key("admin")
    for bad in ("", ADMIN_SHA1[:-1], ADMIN_SHA1[:-1] + "g", " " + ADMIN_SHA1[1:]):
        with pytest.raises(AuthError):
            key_from_hex(bad)


@pytest.mark.parametrize(
    "response",
    [
        "hmac",  # evQueue accepts this for any user (protocol.md §2.3); we do not
        RESPONSE.upper(),
        RESPONSE[:-1],
        RESPONSE + "0",
        " " + RESPONSE,
        "",
        "0" * 40,
        "é" * 40,
        RESPONSE[:-1] + "\u0660",
    ],
)
def test_refused_responses(response: str) -> None:
    assert not verify_response(response, CHALLENGE, password_key("admin"))


def test_wrong_password_is_refused() -> None:
    assert not verify_response(RESPONSE, CHALLENGE, password_key("Admin"))
    assert not verify_response(RESPONSE, "f" + CHALLENGE[1:], password_key("admin"))


def test_malformed_challenge() -> None:
    with pytest.raises(AuthError, match="Invalid challenge"):
        compute_response("not hex", password_key("admin"))


def test_challenge_generation() -> None:
    assert generate_challenge(lambda n: "AB" * n) == "ab" * 20
    first, second = generate_challenge(), generate_challenge()
    assert first != second
    for challenge in (first, second):
        assert len(challenge) == 40 and set(challenge) <= set("0123456789abcdef")


def test_non_ascii_password_is_utf8() -> None:
    # PHP's sha1() and evQueue's Sha1String hash the password's bytes, UTF-8 in practice.
    assert password_key("pâss") == hashlib.sha1(b"p\xc3\xa2ss").digest()


# --- storage ----------------------------------------------------------------------------------


def test_evqueue_format_without_secret() -> None:
    stored = hash_password("admin")
    assert stored == StoredPassword(ADMIN_SHA1, None, 0)
    # evQueue's seed row keeps working, with or without a secret on this node.
    for secret in (None, SECRET):
        key = hmac_key_from_stored(ADMIN_SHA1, None, 0, secret)
        assert verify_response(RESPONSE, CHALLENGE, key)
    assert hmac_key_from_stored(ADMIN_SHA1.upper(), "", 0, None) == password_key("admin")


def test_wrapped_format_round_trip() -> None:
    stored = hash_password("admin", secret=SECRET)
    password, salt, iterations = stored
    assert iterations == DEFAULT_ITERATIONS
    # Fits evQueue's columns: user_password varchar(40), user_password_salt varchar(40).
    assert len(password) == 40 and salt is not None and len(salt) == 40
    assert password != ADMIN_SHA1
    key = hmac_key_from_stored(password, salt, iterations, SECRET)
    assert key == password_key("admin")
    assert verify_response(RESPONSE, CHALLENGE, key)


def test_wrapped_format_uses_a_fresh_salt_each_time() -> None:
    first = hash_password("admin", secret=SECRET, iterations=10)
    second = hash_password("admin", secret=SECRET, iterations=10)
    assert first.password != second.password and first.salt != second.salt
    salt = bytes(16)
    fixed = hash_password("admin", secret=SECRET, iterations=10, salt=salt)
    assert fixed == hash_password("admin", secret=SECRET, iterations=10, salt=salt)
    assert fixed.salt is not None and fixed.salt.startswith("00" * 16)


def test_wrapped_password_needs_the_same_secret() -> None:
    password, salt, iterations = hash_password("admin", secret=SECRET, iterations=10)
    with pytest.raises(CredentialError) as caught:
        hmac_key_from_stored(password, salt, iterations, bytes(32))
    assert caught.value.reason == "password was stored with a different auth secret"
    # The client only ever sees evQueue's message.
    assert caught.value.message == "Invalid authentication"
    assert caught.value.code == "AUTH_ERROR" and caught.value.fatal
    with pytest.raises(CredentialError, match="Invalid authentication") as caught:
        hmac_key_from_stored(password, salt, iterations, None)
    assert "no auth secret" in caught.value.reason


def test_iterations_matter() -> None:
    password, salt, _ = hash_password("admin", secret=SECRET, iterations=10)
    assert hmac_key_from_stored(password, salt, 11, SECRET) != password_key("admin")


@pytest.mark.parametrize(
    ("password", "salt", "iterations"),
    [
        ("zz" * 20, None, 0),
        (ADMIN_SHA1[:38], None, 0),
        (ADMIN_SHA1, None, 5),
        (ADMIN_SHA1, "00" * 19, 5),
        (ADMIN_SHA1, "zz" * 20, 5),
    ],
)
def test_malformed_rows(password: str, salt: str | None, iterations: int) -> None:
    with pytest.raises(CredentialError):
        hmac_key_from_stored(password, salt, iterations, SECRET)


def test_hash_password_arguments() -> None:
    with pytest.raises(ValueError):
        hash_password("x", secret=SECRET, iterations=0)
    with pytest.raises(ValueError):
        hash_password("x", secret=SECRET, salt=b"short")


def test_secrets() -> None:
    text = new_secret()
    assert len(text) == 64 and new_secret() != text
    assert parse_secret(text + "\n") == bytes.fromhex(text)
    assert parse_secret(text.encode()) == bytes.fromhex(text)
    with pytest.raises(ValueError):
        parse_secret("00" * 15)
    with pytest.raises(ValueError):
        parse_secret("not hex")
