"""Challenge-response authentication and how user passwords are stored.

The exchange is evQueue's and must stay as it is, because existing clients (the C++ cluster
client and CLI, PHP, the JavaScript UI) implement it (protocol.md §2):

1. the server sends ``<auth challenge="C"/>``, C being 40 lowercase hex characters;
2. the client answers ``response = hex(HMAC-SHA1(key=K, msg=unhex(C)))`` where
   ``K = SHA1(password)`` as 20 raw bytes;
3. the server recomputes the HMAC and compares: lowercase hex only, exact, constant time.
   evQueue also accepted the literal response ``"hmac"`` for any user; we do not.

Password storage. The server must be able to compute the HMAC, so it must be able to obtain
K, and K is a password equivalent: whoever holds it can log in (the JavaScript client even
keeps it in localStorage). No salted one-way hash can therefore verify this protocol; the
only thing a salted hash could protect is the *plain password*, and K is an unsalted SHA-1
of it anyway. What can be protected is the table copy: evQueue stores ``hex(K)`` in
``t_user.user_password``, so a leaked database (a backup, a dump, a shared DB account) gives
both a login for every user and an unsalted SHA-1 to crack. We keep K out of the database
when the node has an *auth secret*, 32 random bytes kept outside the database (a file on
each node; every node of a cluster needs the same secret):

- ``user_password_iterations`` = 0 and ``user_password_salt`` NULL: evQueue's format,
  ``user_password = hex(K)``. Existing databases keep working, and it is what
  :func:`hash_password` writes when no secret is configured (needed while evQueue C++
  nodes share the database).
- ``user_password_iterations`` = N > 0: wrapped format. ``salt`` is 16 random bytes,
  ``pad = PBKDF2-HMAC-SHA256(secret, "evqueue-password-wrap" + salt, N, 20 bytes)`` and
  ``user_password = hex(K XOR pad)``. ``user_password_salt`` holds
  ``hex(salt) + hex(secret id)`` where the secret id is the first 4 bytes of
  ``HMAC-SHA256(secret, "evqueue-auth-secret-id")``, so a node with a different secret
  reports a configuration error instead of a mysterious "Invalid authentication".

With a random secret the pad is a fresh one-time pad per password (a new salt on every
change), so the table alone reveals nothing about K or the password. The iteration count
only matters if an administrator picks a guessable secret; it is stored per row so it can be
raised later. Both values fit evQueue's columns (varchar 40, varchar 40, int). What this does
not protect against: an attacker holding both the database and the secret, or one who can
write the table (a legacy-format row can be written for any user, as with evQueue).

The server should compute K when it loads users, so a login costs one HMAC; for an unknown
user it should still run :func:`verify_response` against a dummy key so both failures take
the same time.

Pure functions only: no clock, no I/O; randomness comes from :mod:`secrets` or the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import NamedTuple

from evqueue.errors import AuthError, CredentialError

__all__ = [
    "CHALLENGE_BYTES",
    "DEFAULT_ITERATIONS",
    "SECRET_BYTES",
    "StoredPassword",
    "compute_response",
    "generate_challenge",
    "hash_password",
    "hmac_key_from_stored",
    "key_from_hex",
    "new_secret",
    "parse_secret",
    "password_key",
    "verify_response",
]

#: Random bytes in a challenge (sent as 40 hex characters, like evQueue's SHA-1 challenge).
CHALLENGE_BYTES = 20
#: PBKDF2 iterations for new wrapped passwords.
DEFAULT_ITERATIONS = 10_000
#: Size of a generated auth secret.
SECRET_BYTES = 32

_MIN_SECRET_BYTES = 16
_SALT_BYTES = 16
_SECRET_ID_BYTES = 4
_KEY_BYTES = 20  # SHA-1 digest
_WRAP_LABEL = b"evqueue-password-wrap"
_SECRET_ID_LABEL = b"evqueue-auth-secret-id"
_LOWER_HEX = frozenset("0123456789abcdef")


class StoredPassword(NamedTuple):
    """The three ``t_user`` columns holding a credential."""

    #: ``user_password``: 40 hex characters.
    password: str
    #: ``user_password_salt``: None for evQueue's format, else 40 hex characters.
    salt: str | None
    #: ``user_password_iterations``: 0 for evQueue's format.
    iterations: int


# --- the exchange -----------------------------------------------------------------------------


def generate_challenge(token_hex: Callable[[int], str] = secrets.token_hex) -> str:
    """Return a new challenge: 40 lowercase hex characters.

    Args:
        token_hex: source of randomness, ``secrets.token_hex`` unless a test injects one.
    """
    return token_hex(CHALLENGE_BYTES).lower()


def password_key(password: str) -> bytes:
    """Return the HMAC key K = SHA1(password) (20 raw bytes) of a plain password (UTF-8)."""
    return hashlib.sha1(password.encode("utf-8")).digest()


def key_from_hex(sha1_hex: str) -> bytes:
    """Return K from its hex form, as evQueue's clients are configured (``api.password``).

    Raises:
        AuthError: not 40 hex characters.
    """
    if len(sha1_hex) != 2 * _KEY_BYTES or not set(sha1_hex.lower()) <= _LOWER_HEX:
        raise AuthError("Invalid password hash")
    return bytes.fromhex(sha1_hex)


def compute_response(challenge: str, key: bytes) -> str:
    """Return the client's answer to ``challenge``: lowercase hex HMAC-SHA1.

    Args:
        challenge: the server's challenge, hex.
        key: K, see :func:`password_key` and :func:`key_from_hex`.

    Raises:
        AuthError: the challenge is not hex.
    """
    try:
        message = bytes.fromhex(challenge)
    except ValueError:
        raise AuthError("Invalid challenge") from None
    return hmac.new(key, message, hashlib.sha1).hexdigest()


def verify_response(response: str, challenge: str, key: bytes) -> bool:
    """Return whether ``response`` proves knowledge of ``key`` for ``challenge``.

    Only the exact lowercase hex HMAC is accepted (no ``"hmac"`` bypass, no uppercase); the
    comparison takes the same time wherever the strings differ.
    """
    expected = compute_response(challenge, key)
    # Check the shape first: compare_digest needs ASCII, and the length test leaks nothing.
    well_formed = len(response) == len(expected) and set(response) <= _LOWER_HEX
    if not well_formed:
        return False
    return hmac.compare_digest(response.encode("ascii"), expected.encode("ascii"))


# --- storage ----------------------------------------------------------------------------------


def new_secret() -> str:
    """Return a new auth secret as hex text, the content of a node's secret file."""
    return secrets.token_hex(SECRET_BYTES)


def parse_secret(text: str | bytes) -> bytes:
    """Decode a secret file's content (hex, surrounding whitespace ignored).

    Raises:
        ValueError: not hex, or shorter than 16 bytes.
    """
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    secret = bytes.fromhex(text.strip())
    if len(secret) < _MIN_SECRET_BYTES:
        raise ValueError(f"auth secret must be at least {_MIN_SECRET_BYTES} bytes")
    return secret


def _secret_id(secret: bytes) -> bytes:
    return hmac.new(secret, _SECRET_ID_LABEL, hashlib.sha256).digest()[:_SECRET_ID_BYTES]


def _pad(secret: bytes, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", secret, _WRAP_LABEL + salt, iterations, _KEY_BYTES)


def _xor(left: bytes, right: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(left, right, strict=True))


def hash_password(
    password: str,
    *,
    secret: bytes | None = None,
    iterations: int = DEFAULT_ITERATIONS,
    salt: bytes | None = None,
) -> StoredPassword:
    """Return the columns to store for a new password.

    Args:
        password: the plain password.
        secret: the node's auth secret; None writes evQueue's plain format.
        iterations: PBKDF2 iterations of the wrapped format (at least 1).
        salt: 16 bytes; random unless a test injects one.

    Returns:
        ``(password, salt, iterations)`` for ``t_user``.
    """
    key = password_key(password)
    if secret is None:
        return StoredPassword(key.hex(), None, 0)
    if iterations < 1:
        raise ValueError("iterations must be at least 1")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    if len(salt) != _SALT_BYTES:
        raise ValueError(f"salt must be {_SALT_BYTES} bytes")
    wrapped = _xor(key, _pad(secret, salt, iterations))
    return StoredPassword(wrapped.hex(), (salt + _secret_id(secret)).hex(), iterations)


def hmac_key_from_stored(
    stored: str, salt: str | None, iterations: int, secret: bytes | None
) -> bytes:
    """Return K, the HMAC key of a user, from the ``t_user`` columns.

    Args:
        stored: ``user_password``.
        salt: ``user_password_salt``.
        iterations: ``user_password_iterations``.
        secret: the node's auth secret, or None if the node has none.

    Raises:
        CredentialError: the row cannot be used on this node; ``reason`` says why (malformed
            columns, wrapped password without a secret, or a different secret).
    """
    if len(stored) != 2 * _KEY_BYTES or not set(stored.lower()) <= _LOWER_HEX:
        raise CredentialError("stored password is not 40 hex characters")
    value = bytes.fromhex(stored)
    if iterations <= 0:
        return value  # evQueue's format: hex(SHA1(password))
    if secret is None:
        raise CredentialError("password is wrapped but this node has no auth secret")
    salt = salt or ""
    if len(salt) != 2 * (_SALT_BYTES + _SECRET_ID_BYTES) or not set(salt.lower()) <= _LOWER_HEX:
        raise CredentialError("stored salt is not 40 hex characters")
    salt_and_id = bytes.fromhex(salt)
    salt_bytes, secret_id = salt_and_id[:_SALT_BYTES], salt_and_id[_SALT_BYTES:]
    if not hmac.compare_digest(secret_id, _secret_id(secret)):
        raise CredentialError("password was stored with a different auth secret")
    return _xor(value, _pad(secret, salt_bytes, iterations))
