"""Dispatch rules: unknown commands, missing actions, admin groups, any-action routes, bugs in
handlers, change hooks."""

from __future__ import annotations

import pytest

from evqueue.api.context import ApiContext
from evqueue.api.dispatch import ANY_ACTION, Dispatcher
from evqueue.api.session import ANONYMOUS, Session, User
from evqueue.api.table import CommandTable, Route
from evqueue.config import Config
from evqueue.protocol import Command, Response
from evqueue.storage.errors import DatabaseUnavailable

ADMIN = Session(ANONYMOUS)
USER = Session(User(id=3, login="bob", profile="USER"))

table = CommandTable()
table.admin_only("secret")


@table.command("echo", "say", modifies=True)
async def _say(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success({"said": cmd.get_str("text")})


@table.command("echo", ANY_ACTION)
async def _any(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success({"any": cmd.action or ""})


@table.command("secret", "get")
@table.command("plain", "get")
async def _get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success()


@table.command("plain", "crash", modifies=True)
async def _crash(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    raise RuntimeError("boom")


@table.command("plain", "store_away")
async def _store_away(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    raise DatabaseUnavailable("connection refused")


@pytest.fixture
def ctx(db):
    return ApiContext(cfg=Config.defaults(), db=db)


async def test_routing_errors(ctx):
    dispatcher = Dispatcher([table])

    async def code(group: str, attrs: dict[str, str], session: Session = ADMIN) -> str | None:
        return (await dispatcher.dispatch(ctx, session, Command.build(group, attrs))).error_code

    assert await code("nosuch", {"action": "get"}) == "UNKNOWN_COMMAND"
    assert await code("plain", {"action": "nosuch"}) == "UNKNOWN_COMMAND"
    assert await code("plain", {}) == "MISSING_PARAMETER"
    assert await code("secret", {"action": "nosuch"}, USER) == "INSUFFICIENT_RIGHTS"
    assert await code("secret", {"action": "get"}) is None
    assert (ctx.stats.api_queries, ctx.stats.api_exceptions) == (5, 4)


async def test_any_action_route_takes_what_no_other_route_does(ctx):
    dispatcher = Dispatcher([table])
    said = await dispatcher.dispatch(ctx, USER, Command.build("echo", {"action": "say",
                                                                        "text": "hi"}))
    assert dict(said.attrs) == {"said": "hi"}
    for attrs, action in (({"action": "other"}, "other"), ({}, "")):
        reply = await dispatcher.dispatch(ctx, USER, Command.build("echo", attrs))
        assert dict(reply.attrs) == {"any": action}


async def test_a_bug_in_a_handler_is_one_ko_response(ctx):
    reply = await Dispatcher([table]).dispatch(ctx, ADMIN, Command.build("plain",
                                                                          {"action": "crash"}))
    assert (reply.error, reply.error_code) == ("Internal error: boom", None)


async def test_a_store_that_is_away_is_an_sql_error(ctx):
    reply = await Dispatcher([table]).dispatch(ctx, ADMIN, Command.build(
        "plain", {"action": "store_away"}))
    assert reply.error_code == "SQL_ERROR"
    assert reply.error == "Database error: connection refused"


async def test_change_hooks_run_after_successful_modifying_commands_only(ctx):
    seen: list[tuple[str, str | None]] = []

    async def hook(ctx: ApiContext, session: Session, cmd: Command, route: Route,
                   response: Response) -> None:
        seen.append((cmd.group, cmd.action))

    async def broken(*args: object) -> None:
        raise RuntimeError("audit store down")

    dispatcher = Dispatcher([table], on_change=[broken, hook])
    ok = await dispatcher.dispatch(ctx, ADMIN, Command.build("echo", {"action": "say",
                                                                       "text": "x"}))
    assert ok.ok, "a failing hook does not change the command's response"
    await dispatcher.dispatch(ctx, ADMIN, Command.build("echo", {"action": "say"}))  # KO
    await dispatcher.dispatch(ctx, ADMIN, Command.build("plain", {"action": "get"}))
    await dispatcher.dispatch(ctx, ADMIN, Command.build("plain", {"action": "crash"}))
    assert seen == [("echo", "say")]


def test_a_command_registered_twice_is_refused():
    other = CommandTable()

    @other.command("plain", "get")
    async def _again(ctx: ApiContext, session: Session, cmd: Command) -> Response:
        return Response.success()

    with pytest.raises(ValueError, match="registered twice"):
        Dispatcher([table, other])
