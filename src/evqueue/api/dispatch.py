"""Dispatch: one dict lookup from (group, action) to handler, and evQueue's error rules.

Rules:
- An unknown group, or a known group with an unknown action: UNKNOWN_COMMAND.
- A route registered with the action :data:`ANY_ACTION` (``"*"``) takes every action of its
  group that has no route of its own, absent action included (``<ping/>`` answers whatever
  its attributes, as evQueue's ping does).
- A known group whose handlers all need an action, sent without one: MISSING_PARAMETER
  ("Missing 'action' attribute").
- Every command runs with its user's current profile and rights: the session is refreshed
  first (:meth:`~evqueue.api.session_registry.SessionRegistry.refresh`; a deleted user's
  session gets AUTH_ERROR and is closed).
- Admin-only groups refuse non-admins before the action is looked at.
- Every error of :mod:`evqueue.errors` is answered here, whoever raised it (the handler, the
  model checking a definition, the engine refusing a launch): its code and message make the KO
  reply (:meth:`~evqueue.protocol.response.Response.from_error`), so handlers let them pass.
- A store error (:class:`~evqueue.storage.errors.StorageError`) is SQL_ERROR.
- Any other exception becomes a code-less KO for this command only; the
  connection and the node carry on (evQueue would answer UNEXPECTED_EXCEPTION and close).
- After a command of a route declared ``modifies=True`` succeeds, every change hook is awaited
  (the API audit log, :mod:`evqueue.api.audit`). A failing hook is logged; the client still
  gets the command's response, since the change itself is done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable, Route
from evqueue.protocol import (
    ApiError,
    Command,
    MissingParameter,
    Response,
    SqlError,
    UnknownCommand,
)
from evqueue.storage.errors import StorageError

__all__ = ["ANY_ACTION", "ChangeHook", "Dispatcher"]

log = logging.getLogger("evqueue.api")

#: Action of a route that takes every action of its group.
ANY_ACTION = "*"

#: Awaited after a successful modifying command: (ctx, session, command, route, response).
ChangeHook = Callable[[ApiContext, Session, Command, Route, Response], Awaitable[None]]


class Dispatcher:
    """Routes commands to the handlers of the given tables.

    Args:
        tables: the command tables of every API module served.
        on_change: hooks awaited after each successful modifying command.
    """

    def __init__(self, tables: Iterable[CommandTable], *,
                 on_change: Iterable[ChangeHook] = ()) -> None:
        self.routes: dict[tuple[str, str | None], Route] = {}
        self.groups: set[str] = set()
        self.admin_groups: set[str] = set()
        self.on_change = list(on_change)
        for table in tables:
            self.admin_groups |= table.admin_groups
            for route in table.routes:
                key = (route.group, route.action)
                if key in self.routes:
                    raise ValueError(f"command {key} registered twice")
                self.routes[key] = route
                self.groups.add(route.group)

    def route(self, session: Session, cmd: Command) -> Route:
        """The route for ``cmd``, or the ApiError evQueue would answer."""
        if cmd.group not in self.groups:
            raise UnknownCommand()
        if cmd.group in self.admin_groups:
            session.require_admin()
        route = self.routes.get((cmd.group, cmd.action))
        if route is None:
            route = self.routes.get((cmd.group, ANY_ACTION))
        if route is not None:
            return route
        if cmd.action is None:
            raise MissingParameter.attribute("action")
        raise UnknownCommand()

    async def dispatch(self, ctx: ApiContext, session: Session, cmd: Command) -> Response:
        """Run one command; always returns a response (KO on failure)."""
        ctx.stats.api_queries += 1
        try:
            await ctx.sessions.refresh(session)
            route = self.route(session, cmd)
            response = await route.handler(ctx, session, cmd)
        except ApiError as error:
            ctx.stats.api_exceptions += 1
            return Response.from_error(error)
        except StorageError as exc:  # the store is away or refused: evQueue's SQL_ERROR
            ctx.stats.api_exceptions += 1
            log.warning("%s/%s: database error: %s", cmd.group, cmd.action, exc)
            return Response.from_error(SqlError(f"Database error: {exc}"))
        except Exception as exc:  # a bug in one handler must not take the connection down
            ctx.stats.api_exceptions += 1
            log.exception("error in %s/%s", cmd.group, cmd.action)
            return Response.from_error(ApiError(f"Internal error: {exc}"))
        if route.modifies and response.ok:
            await self._changed(ctx, session, cmd, route, response)
        return response

    async def _changed(self, ctx: ApiContext, session: Session, cmd: Command, route: Route,
                       response: Response) -> None:
        for hook in self.on_change:
            try:
                await hook(ctx, session, cmd, route, response)
            except Exception:  # the change is done; a failed side record must not hide it
                log.exception("change hook failed after %s/%s", cmd.group, cmd.action)
