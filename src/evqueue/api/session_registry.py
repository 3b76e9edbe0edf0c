"""The sessions open on a node, checked against the current profile and rights of their users.

Rules:
- Every logged-in connection (TCP, unix socket, websocket) opens its :class:`Session` here
  (:meth:`SessionRegistry.opened`) and says how to close it.
- Each command runs with its user's current profile, workflow rights and module rights: the
  dispatcher calls :meth:`SessionRegistry.refresh` first, which replaces the session's user
  with the one cached for its id: a dict lookup.
- The cache is forgotten by :meth:`SessionRegistry.reload`, run when module ``users`` (or
  ``all``) is reloaded: after every change of users or rights on this node (``ctx.changed``)
  and on the cluster notification a change on another node sends (``control reload``). Every
  open session is then brought up to date at once, and the sessions of a deleted user are
  closed, idle or not.
- A user is looked up by id: a renamed user keeps its sessions, a deleted one loses them even
  if a user of the same name is created again.
- Sessions not opened here (built directly, internal ones) and the anonymous user of
  ``core.auth.enable=no`` are not checked.
- The store away: the command is refused (the store error reaches the dispatcher, SQL_ERROR);
  it never runs with rights that may be stale.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator

from evqueue.api.session import Session, User, WorkflowRights
from evqueue.errors import AuthError
from evqueue.storage.api_support import load_grants
from evqueue.storage.database import Database
from evqueue.storage.errors import StorageError
from evqueue.storage.users import get_user

__all__ = ["USER_DELETED", "CloseSession", "SessionRegistry", "load_user"]

log = logging.getLogger("evqueue.api")

#: Why a deleted user's session is closed (also the error of a command it still sends).
USER_DELETED = "User deleted"

#: Closes a session's connection; called with the reason, on the event loop, at most once.
CloseSession = Callable[[str], None]


async def load_user(db: Database, user_id: int) -> User | None:
    """The current profile and rights of a user, or None when it does not exist any more.

    Raises:
        StorageError: the store cannot be read.
    """
    row = await get_user(db, user_id)
    if row is None:
        return None
    grants = await load_grants(db, user_id)
    rights = {r.workflow_id: WorkflowRights(read=r.read, exec=r.exec, edit=r.edit, kill=r.kill)
              for r in grants.rights}
    return User(id=row.id, login=row.login, profile="ADMIN" if row.profile == "ADMIN" else "USER",
                rights=rights, modules=frozenset(grants.modules))


class SessionRegistry:
    """The sessions of one node and a cache of their users' current state.

    Args:
        db: the store users are read from.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._open: dict[int, tuple[Session, CloseSession]] = {}  # id(session) → …
        self._deleted: set[int] = set()  # id(session) of open sessions of deleted users
        self._users: dict[int, User | None] = {}  # user id → current user, None: deleted
        self._generation = 0  # bumped by reload: a load begun before it is not cached

    def __len__(self) -> int:
        return len(self._open)

    @contextlib.contextmanager
    def opened(self, user: User, transport: str, peer: str,
               close: CloseSession) -> Iterator[Session]:
        """A session of ``user`` checked on each command while the block runs.

        Args:
            user: the user the login authenticated.
            transport: ``tcp``, ``unix`` or ``ws``.
            peer: the client's address ("" for a unix socket).
            close: closes the connection (a deleted user's session).

        Yields:
            The session.
        """
        session = Session(user, transport, peer)  # type: ignore[arg-type]
        if user.id is not None:
            self._open[id(session)] = (session, close)
        try:
            yield session
        finally:
            self._open.pop(id(session), None)
            self._deleted.discard(id(session))

    async def refresh(self, session: Session) -> None:
        """Give ``session`` its user's current profile and rights (before each command).

        Raises:
            AuthError: the user was deleted (the session is being closed).
            StorageError: the store cannot be read.
        """
        entry = self._open.get(id(session))
        if entry is None or entry[0] is not session or session.user.id is None:
            return
        if id(session) in self._deleted:
            raise AuthError(USER_DELETED)
        user = await self._current(session.user.id)
        if user is None:
            self._close(entry)
            raise AuthError(USER_DELETED)
        session.user = user

    async def reload(self) -> None:
        """Users or rights changed: forget the cache, bring every open session up to date,
        close the sessions of deleted users."""
        self._users.clear()
        self._generation += 1
        for entry in list(self._open.values()):
            session = entry[0]
            if session.user.id is None or id(session) in self._deleted:
                continue
            try:
                user = await self._current(session.user.id)
            except StorageError as exc:  # its next command loads it again (or is refused)
                log.warning("cannot check the rights of user '%s': %s", session.user.login, exc)
                continue
            if user is None:
                self._close(entry)
            else:
                session.user = user

    async def _current(self, user_id: int) -> User | None:
        if user_id in self._users:
            return self._users[user_id]
        generation = self._generation
        user = await load_user(self.db, user_id)
        if generation == self._generation:
            self._users[user_id] = user
        return user

    def _close(self, entry: tuple[Session, CloseSession]) -> None:
        session, close = entry
        if id(session) in self._deleted:
            return  # being closed already
        self._deleted.add(id(session))
        log.info("closing the %s session of deleted user '%s'%s", session.transport,
                 session.user.login, f" from {session.peer}" if session.peer else "")
        try:
            close(USER_DELETED)
        except Exception:  # one connection's failure must not stop the others' check
            log.exception("could not close a session of deleted user '%s'", session.user.login)
