"""Helpers of the websocket server tests: a real server on 127.0.0.1:0, a client that logs in.

The dispatcher serves every API table of the node, plus a few test-only commands (group
``wstest``); ``status type="workflows"`` lists what the test puts in the fake engine's
``running`` (:func:`engine_of`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from lxml import etree

from evqueue.api import workflow
from evqueue.api.context import ApiContext, Services
from evqueue.api.dispatch import Dispatcher
from evqueue.api.modules import all_tables
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.config import Config
from evqueue.engine.events import EventBus
from evqueue.engine.statistics import EngineStatistics
from evqueue.protocol import Command, Response, UnknownInstance, compute_response, password_key
from evqueue.server.ws_server import MetricsSource, WsServer

__all__ = [
    "NODE",
    "FakeEngine",
    "WsTestContext",
    "attrs",
    "connect",
    "dispatcher",
    "engine_of",
    "gate_of",
    "login",
    "receive_close",
    "receive_text",
    "serve",
    "until",
]

NODE = "node1"


@dataclass
class _Running:
    workflow_id: int


@dataclass
class FakeEngine:
    """What ``status type="workflows"`` reads of the engine: the summaries in ``running``."""

    #: the ``<workflow>`` elements of the instances running
    running: list[etree._Element] = field(default_factory=list)
    stats: EngineStatistics = field(default_factory=EngineStatistics)

    def status(self, limit: int) -> tuple[int, list[etree._Element]]:
        return len(self.running), list(self.running)

    def instance(self, instance_id: int) -> _Running | None:
        ids = [int(summary.get("id", "0")) for summary in self.running]
        return _Running(workflow_id=1) if instance_id in ids else None


@dataclass
class WsTestContext(ApiContext):
    """The node's context, plus the event ``<wstest action="slow"/>`` waits for."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)


_table = CommandTable()


@_table.command("wstest", "slow")
async def _slow(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    assert isinstance(ctx, WsTestContext)
    await ctx.gate.wait()
    return Response.success({"slow": "done"})


@_table.command("wstest", "fail")
async def _fail(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    raise UnknownInstance()


@_table.command("wstest", "whoami")
async def _whoami(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success({"user": session.user.login, "transport": session.transport})


def dispatcher() -> Dispatcher:
    """The node's API tables, the workflow commands and the test commands."""
    tables = all_tables()
    if workflow.routes not in tables:
        tables.append(workflow.routes)
    return Dispatcher([*tables, _table])


@contextlib.asynccontextmanager
async def serve(db: Any, config: dict[str, str] | None = None, *, bus: EventBus | None = None,
                metrics_source: MetricsSource | None = None,
                static_dir: Path | None = None) -> AsyncIterator[WsServer]:
    """A started server on 127.0.0.1, free port, node ``node1``."""
    cfg = Config.from_mapping({"ws.bind.ip": "127.0.0.1", "ws.bind.port": "0",
                               "cluster.node.name": NODE, **(config or {})})
    engine = FakeEngine()
    ctx = WsTestContext(cfg=cfg, db=db, services=Services(engine=engine))  # type: ignore[arg-type]
    server = WsServer(ctx, dispatcher(), events=bus, metrics_source=metrics_source,
                      static_dir=static_dir)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def gate_of(server: WsServer) -> asyncio.Event:
    """The event a ``<wstest action="slow"/>`` on ``server`` waits for."""
    assert isinstance(server.ctx, WsTestContext)
    return server.ctx.gate


def engine_of(server: WsServer) -> FakeEngine:
    """The fake engine of ``server``."""
    assert isinstance(server.ctx.services.engine, FakeEngine)
    return server.ctx.services.engine


def base_url(server: WsServer, scheme: str = "http") -> str:
    """``http://127.0.0.1:port``."""
    return f"{scheme}://127.0.0.1:{server.port}"


async def receive_text(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10.0) -> str:
    """The next frame, which must be a text frame."""
    msg = await ws.receive(timeout=timeout)
    assert msg.type is aiohttp.WSMsgType.TEXT, (msg.type, msg.data, msg.extra)
    return str(msg.data)


async def receive_close(ws: aiohttp.ClientWebSocketResponse,
                        timeout: float = 10.0) -> tuple[int, str]:
    """Wait for the server's close frame; returns (code, reason)."""
    msg = await ws.receive(timeout=timeout)
    assert msg.type is aiohttp.WSMsgType.CLOSE, (msg.type, msg.data)
    return int(msg.data), str(msg.extra)


def attrs(text: str) -> dict[str, str]:
    """The root attributes of a received message."""
    return dict(etree.fromstring(text.encode()).attrib)


async def login(ws: aiohttp.ClientWebSocketResponse, user: str = "admin",
                password: str = "admin") -> str:
    """Answer the challenge as the web UI does; returns the greeting."""
    challenge = attrs(await receive_text(ws))["challenge"]
    response = compute_response(challenge, password_key(password))
    await ws.send_str(f"<auth response='{response}' user='{user}' />")
    return await receive_text(ws)


async def connect(session: aiohttp.ClientSession, server: WsServer, protocol: str = "api", *,
                  authenticate: bool = True, path: str = "/") -> aiohttp.ClientWebSocketResponse:
    """Open a websocket with one subprotocol (logged in as admin unless told not to)."""
    ws = await session.ws_connect(base_url(server) + path, protocols=(protocol,),
                                  autoping=True)
    if authenticate:
        greeting = await login(ws)
        assert greeting.startswith("<ready "), greeting
    return ws


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds (checked at every loop turn, bounded in time)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)
