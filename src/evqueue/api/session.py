"""Who is on the other end of a connection, and what they may do.

Rules:
- A session acts for one user for its whole life: ``anonymous``/ADMIN when
  ``core.auth.enable=no``, else the user the challenge authenticated. That user's profile and
  rights are the current ones: a connection's session is refreshed before each command
  (:mod:`evqueue.api.session_registry`), and closed once the user is deleted.
- ADMIN passes every check. A USER has per-workflow flags read/exec/edit/kill (``t_user_right``)
  and module rights (``t_user_module``, for ``storage``/``launcher``).
- Checks raise ``InsufficientRights`` ("insufficient rights"); handlers call them first thing,
  through ``require_admin()`` / ``require(workflow_id, right)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from evqueue.protocol import InsufficientRights

__all__ = ["ANONYMOUS", "Right", "Session", "User", "WorkflowRights"]

Right = Literal["read", "exec", "edit", "kill"]


@dataclass(frozen=True)
class WorkflowRights:
    """The four flags a USER may hold on one workflow."""

    read: bool = False
    exec: bool = False
    edit: bool = False
    kill: bool = False


@dataclass(frozen=True)
class User:
    """An authenticated user and its rights, loaded at login."""

    id: int | None
    login: str
    profile: Literal["ADMIN", "USER"]
    rights: dict[int, WorkflowRights] = field(default_factory=dict)
    modules: frozenset[tuple[str, str, int]] = frozenset()  # (module, type, object id)

    @property
    def is_admin(self) -> bool:
        """True for the ADMIN profile."""
        return self.profile == "ADMIN"

    def can(self, workflow_id: int, right: Right) -> bool:
        """Whether this user holds ``right`` on the workflow."""
        if self.is_admin:
            return True
        flags = self.rights.get(workflow_id)
        return bool(flags and getattr(flags, right))

    def can_module(self, module: str, object_type: str, object_id: int) -> bool:
        """Whether this user may access a module object (storage launchers)."""
        return self.is_admin or (module, object_type, object_id) in self.modules


ANONYMOUS = User(id=None, login="anonymous", profile="ADMIN")


@dataclass
class Session:
    """One API connection's identity (TCP, unix socket or websocket)."""

    user: User
    transport: Literal["tcp", "unix", "ws", "internal"] = "tcp"
    peer: str = ""

    def require_admin(self) -> None:
        """Raise InsufficientRights unless the user is an ADMIN."""
        if not self.user.is_admin:
            raise InsufficientRights()

    def require(self, workflow_id: int, *rights: Right) -> None:
        """Raise InsufficientRights unless the user holds every right on the workflow."""
        for right in rights:
            if not self.user.can(workflow_id, right):
                raise InsufficientRights()
