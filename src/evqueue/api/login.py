"""Login: the challenge handshake of every API connection, without the connection.

Rules (protocol.md §2):

- With ``core.auth.enable=yes`` the server first sends ``<auth challenge=… node=… status="OK"/>``
  (:meth:`Authenticator.challenge`); the client's first message must be
  ``<auth response=… user=…/>``. Every failure is fatal for the connection and carries
  evQueue's message and code: ``Expected 'auth' node`` (AUTH_ERROR), ``Missing 'response'
  attribute`` / ``Missing 'user' attribute`` (MISSING_PARAMETER), ``Invalid authentication``
  (AUTH_ERROR) for an unknown user and for a wrong response alike.
- The response is checked by :func:`evqueue.protocol.auth.verify_response`: exact lowercase hex
  HMAC, constant time, no ``"hmac"`` bypass. An unknown user, or a stored credential this node
  cannot use, is still verified against a dummy key so the time taken does not tell them apart
  from a wrong password; with a secret, every login also pays exactly one unwrapping. The store
  is asked the same for every failure (the user's row); rights are read only after the
  response is verified.
- Both stored password formats work: evQueue's plain ``hex(SHA1(password))`` and the wrapped
  format, unwrapped with the secret read from the file named by ``core.auth.secret``.
- Brute force is slowed by :class:`LoginThrottle`: after ``max_failures`` failures for one login
  name, or from one peer address, within ``window`` seconds, further attempts for that name or
  from that address are refused for ``lockout`` seconds, with AUTH_ERROR and a message saying
  so. Names are counted whether or not the user exists, so the throttle reveals nothing.
- With ``core.auth.enable=no`` there is no challenge: the user is ``anonymous`` with profile
  ADMIN and the greeting is sent straight away.
- After a successful login the server sends the ``<ready>`` greeting
  (:meth:`Authenticator.greeting`), listing the optional modules whose command groups this node
  serves.

Nothing here touches a socket; the clock is a callable so tests pass time in.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from evqueue.api.session import ANONYMOUS, User, WorkflowRights
from evqueue.config import Config
from evqueue.protocol import (
    AuthError,
    Command,
    CredentialError,
    MissingParameter,
    challenge_message,
    generate_challenge,
    greeting_message,
    hash_password,
    hmac_key_from_stored,
    parse_secret,
    verify_response,
)
from evqueue.storage.api_support import (
    LoginCredential,
    LoginGrants,
    load_credential,
    load_grants,
)
from evqueue.storage.database import Database

__all__ = [
    "OPTIONAL_MODULES",
    "THROTTLED_MESSAGE",
    "Authenticator",
    "LoginThrottle",
    "load_secret",
    "modules_served",
    "user_from_login",
]

#: syslog's NOTICE, between INFO and WARNING (the engine's logging defines the level name).
_NOTICE = 25

log = logging.getLogger("evqueue.api.login")

#: Optional modules announced in ``<ready><modules>`` when their command group is served.
OPTIONAL_MODULES = ("git", "storage", "elogs")
#: What a throttled client is told (code AUTH_ERROR).
THROTTLED_MESSAGE = "Too many failed authentications, try again later"

_KEY_BYTES = 20


def load_secret(cfg: Config) -> bytes | None:
    """Read the auth secret named by ``core.auth.secret`` (None when the key is empty).

    Raises:
        ValueError: the file cannot be read or does not hold a usable secret; the message
            names the key and the file.
    """
    path = cfg.path("core.auth.secret")
    if not path:
        return None
    try:
        with open(path, encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError as exc:
        raise ValueError(f"core.auth.secret: cannot read '{path}': {exc.strerror}") from None
    try:
        return parse_secret(text)
    except ValueError as exc:
        raise ValueError(f"core.auth.secret: '{path}' does not hold a hex secret: {exc}") from None


def modules_served(groups: Iterable[str]) -> list[str]:
    """The optional modules to announce, given the command groups a node serves."""
    served = set(groups)
    return [name for name in OPTIONAL_MODULES if name in served]


def user_from_login(credential: LoginCredential, grants: LoginGrants) -> User:
    """The session user (profile and rights) of a verified login."""
    profile = "ADMIN" if credential.profile == "ADMIN" else "USER"
    rights = {r.workflow_id: WorkflowRights(read=r.read, exec=r.exec, edit=r.edit, kill=r.kill)
              for r in grants.rights}
    return User(id=credential.id, login=credential.login, profile=profile, rights=rights,
                modules=frozenset(grants.modules))


@dataclass
class LoginThrottle:
    """Failed-login bookkeeping per login name and per peer address.

    Args:
        max_failures: failures within ``window`` that lock a name or an address.
        window: seconds over which failures are counted.
        lockout: seconds a locked name or address is refused.
    """

    max_failures: int = 10
    window: float = 60.0
    lockout: float = 60.0
    _failures: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _locked: dict[str, float] = field(default_factory=dict, repr=False)

    @staticmethod
    def _keys(login: str, peer: str) -> list[str]:
        # A unix-socket peer has no address: only its login name is counted.
        return [f"user:{login}"] + ([f"peer:{peer}"] if peer else [])

    def blocked(self, login: str, peer: str, now: float) -> bool:
        """Whether an attempt for ``login`` from ``peer`` must be refused at ``now``."""
        self._expire(now)
        return any(key in self._locked for key in self._keys(login, peer))

    def failed(self, login: str, peer: str, now: float) -> None:
        """Record a failed attempt."""
        self._expire(now)
        for key in self._keys(login, peer):
            times = self._failures.setdefault(key, deque())
            times.append(now)
            if len(times) >= self.max_failures:
                self._locked[key] = now + self.lockout
                del self._failures[key]
                log.warning("authentication: too many failures for %s, refused for %gs",
                            key, self.lockout)

    def succeeded(self, login: str) -> None:
        """Forget the failures of a name that just logged in (its peer's are kept)."""
        self._failures.pop(f"user:{login}", None)

    def _expire(self, now: float) -> None:
        for key in [k for k, until in self._locked.items() if until <= now]:
            del self._locked[key]
        for key in list(self._failures):
            times = self._failures[key]
            while times and times[0] <= now - self.window:
                times.popleft()
            if not times:
                del self._failures[key]


class Authenticator:
    """The node's side of the handshake, shared by every API connection (TCP, unix, websocket).

    Args:
        cfg: the node configuration (``core.auth.enable``, ``cluster.node.name``).
        db: the store users are read from.
        secret: the auth secret (:func:`load_secret`), or None.
        modules: optional modules announced in the greeting (:func:`modules_served`).
        throttle: the brute-force throttle; a default one when None.
        clock: monotonic seconds, for the throttle.
        wall_clock: local time of the greeting.
    """

    def __init__(
        self,
        cfg: Config,
        db: Database,
        *,
        secret: bytes | None = None,
        modules: Iterable[str] = (),
        throttle: LoginThrottle | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self.cfg = cfg
        self.db = db
        self.secret = secret
        self.modules = list(modules)
        self.throttle = throttle or LoginThrottle()
        self.clock = clock
        self.wall_clock = wall_clock
        # Verified against when the user is unknown, so the timing matches a wrong password.
        self._dummy_key = secrets.token_bytes(_KEY_BYTES)
        # With a secret, unwrapping a stored password costs a PBKDF2: every login that does not
        # unwrap a real one unwraps this, so neither unknown users nor plain-format rows stand
        # out by their timing.
        self._dummy_stored = (hash_password(secrets.token_hex(16), secret=secret)
                              if secret is not None else None)

    @property
    def enabled(self) -> bool:
        """Whether connections must authenticate (``core.auth.enable``)."""
        return bool(self.cfg["core.auth.enable"])

    @property
    def node(self) -> str:
        """This node's name."""
        return self.cfg.node_name

    def new_challenge(self) -> str:
        """A fresh challenge for one connection (40 hex characters)."""
        return generate_challenge()

    def challenge(self, challenge: str) -> bytes:
        """The unframed ``<auth challenge=…>`` message announcing ``challenge``."""
        return challenge_message(challenge, self.node)

    def greeting(self, user: User) -> bytes:
        """The unframed ``<ready …>`` greeting for ``user``."""
        return greeting_message(node=self.node, profile=user.profile, time=self.wall_clock(),
                                modules=self.modules)

    def anonymous(self) -> User:
        """The user of every connection when authentication is disabled."""
        return ANONYMOUS

    async def authenticate(self, cmd: Command, challenge: str, peer: str = "") -> User:
        """Check the client's answer to ``challenge``.

        Args:
            cmd: the first message the client sent after the challenge.
            challenge: the challenge this connection was sent.
            peer: the client's address (no port), "" for a unix socket.

        Returns:
            The authenticated user, with its rights.

        Raises:
            AuthError: not an ``auth`` message, throttled, unknown user or wrong response.
            MissingParameter: ``response`` or ``user`` is absent (fatal).
        """
        if cmd.group != "auth":
            raise AuthError("Expected 'auth' node")
        response = _required(cmd, "response")
        login = _required(cmd, "user")
        if self.throttle.blocked(login, peer, self.clock()):
            log.log(_NOTICE, "authentication refused for user '%s' from %s: throttled",
                    login, peer or "unix socket")
            raise AuthError(THROTTLED_MESSAGE)
        record = await load_credential(self.db, login)
        key, problem = self._key(record)
        valid = verify_response(response, challenge, key)
        if record is None or problem is not None or not valid:
            reason = problem or ("unknown user" if record is None else "wrong password")
            log.log(_NOTICE, "authentication failed for user '%s' from %s: %s",
                    login, peer or "unix socket", reason)
            self.throttle.failed(login, peer, self.clock())
            raise AuthError()
        self.throttle.succeeded(login)
        log.info("successful authentication of user '%s'", login)
        return user_from_login(record, await load_grants(self.db, record.id))

    def _key(self, record: LoginCredential | None) -> tuple[bytes, str | None]:
        """The HMAC key to verify with, and why the real one cannot be used (if so)."""
        key, problem = self._dummy_key, None
        unwrapped = False
        if record is not None:
            try:
                key = hmac_key_from_stored(record.password, record.salt, record.iterations,
                                           self.secret)
                unwrapped = record.iterations > 0
            except CredentialError as exc:
                problem = f"unusable stored credential ({exc.reason})"
        if not unwrapped and self._dummy_stored is not None:
            hmac_key_from_stored(*self._dummy_stored, self.secret)  # same cost, result unused
        return key, problem


def _required(cmd: Command, name: str) -> str:
    value = cmd.attrs.get(name)
    if value is None:
        # During authentication every error ends the connection.
        raise MissingParameter(f"Missing '{name}' attribute", fatal=True)
    return value
