"""Command tables: how an API module declares the commands it handles.

Rules:
- Each command-group module has one ``routes = CommandTable()`` and decorates its handlers with
  ``@routes.command("group", "action", ...)``; an action of ``None`` handles commands sent
  without an ``action`` attribute (``<ping/>``).
- ``admin_only`` on a group makes the dispatcher refuse non-admins before it even reads the
  action, as evQueue does for admin groups (a USER sending an unknown action to an admin group
  gets INSUFFICIENT_RIGHTS, not UNKNOWN_COMMAND).
- A handler is ``async def handler(ctx, session, cmd) -> Response`` and raises ``ApiError``
  subclasses for failures; it never writes to a socket.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from evqueue.protocol import Command, Response

if TYPE_CHECKING:
    from evqueue.api.context import ApiContext
    from evqueue.api.session import Session

__all__ = ["CommandTable", "Handler", "Route"]

Handler = Callable[["ApiContext", "Session", Command], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    """One registered (group, action) → handler."""

    group: str
    action: str | None
    handler: Handler
    modifies: bool = False  # logged in t_log_api when loggerapi.enable


@dataclass
class CommandTable:
    """The commands of one module, collected by decorators and registered once."""

    routes: list[Route] = field(default_factory=list)
    admin_groups: set[str] = field(default_factory=set)

    def command(self, group: str, *actions: str | None,
                modifies: bool = False) -> Callable[[Handler], Handler]:
        """Register the decorated handler for ``group`` and each of ``actions``."""

        def register(handler: Handler) -> Handler:
            for action in actions or (None,):
                self.routes.append(Route(group, action, handler, modifies))
            return handler

        return register

    def admin_only(self, *groups: str) -> None:
        """Refuse every action of these groups to non-admins, before the action is read."""
        self.admin_groups.update(groups)
