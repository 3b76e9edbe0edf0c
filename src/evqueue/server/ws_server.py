"""The websocket/HTTP listener on ``ws.bind.ip``/``ws.bind.port`` (protocol.md §6).

One aiohttp application serves, on one port:

- a websocket on **any path**, subprotocol ``api`` or ``events`` (the first of the client's
  offer that we speak is chosen and echoed: ``events, api`` gives ``events``). An offer with
  only unknown subprotocols is refused (HTTP 400). A websocket without subprotocol is accepted
  then closed with 1002 and a message naming the two subprotocols. Each connection is served by
  :class:`~evqueue.server.ws_connection.WsConnection`;
- plain HTTP: ``GET /`` (and ``/index.html``) the web UI, ``/static/…`` its files,
  ``/healthz`` a JSON health report (:mod:`evqueue.server.health`: ``status`` ``ok``, or
  ``degraded`` with HTTP 503 and its ``problems``), ``/metrics`` the Prometheus text
  exposition; any other request is answered ``403 Forbidden``, as evQueue does.

Rules:

- ``ws.bind.ip`` empty disables the listener, ``*`` means every interface. TLS is on when
  ``ws.ssl.crt`` and ``ws.ssl.key`` are set.
- ``ws.connections.max`` websockets at most: one more is refused with HTTP 503 before the
  upgrade. Every connection of the port, websocket or not, goes through
  :class:`~evqueue.server.ws_guard.PortGuard`: at most ``ws.connections.max`` +
  ``ws.http.connections.max`` at once, headers within ``ws.http.timeout`` seconds (also the
  keep-alive timeout), and before login a first websocket message of at most
  ``AUTH_MAX_SIZE`` bytes, refused from its frame header. Connections are accepted by an
  :class:`~evqueue.server.acceptor.Acceptor` (it rests when descriptors run out).
  ``ws.origins`` (comma list), when set, refuses a browser whose ``Origin`` is not
  listed (HTTP 403), unless the page comes from this very host and port; clients that send
  no ``Origin`` (not browsers) are not concerned.
- ``ws.keepalive`` seconds between ping frames (a peer that does not answer within half of it
  is dropped); ``ws.rcv.timeout`` and ``network.login.timeout`` (the shorter) bound the login;
  ``ws.snd.timeout`` bounds each send.
- Engine events come from an event bus (``subscribe(callable)``): the one given, else
  ``ctx.services.events``. Each event is offered to every ``events`` connection.
- ``stop()`` stops accepting, closes every websocket with 1001, then releases the port.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import itertools
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from aiohttp import web

from evqueue import EVQUEUE_VERSION
from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.login import Authenticator, load_secret, modules_served
from evqueue.engine.events import Event
from evqueue.server.acceptor import Acceptor
from evqueue.server.api_server import AUTH_MAX_SIZE, ListenError
from evqueue.server.health import node_health
from evqueue.server.metrics import CONTENT_TYPE, EngineFigures, render_metrics
from evqueue.server.turns import Turns
from evqueue.server.ws_connection import (
    CLOSE_GOING_AWAY,
    CLOSE_PROTOCOL_ERROR,
    WsConnection,
    WsSettings,
)
from evqueue.server.ws_guard import PortGuard

__all__ = [
    "SUBPROTOCOLS",
    "EventSource",
    "MetricsSource",
    "WsServer",
    "default_static_dir",
]

log = logging.getLogger("evqueue.server.ws")

#: The websocket subprotocols served, in our order of preference.
SUBPROTOCOLS = ("api", "events")

#: Returns the engine's figures for ``/metrics`` (a coroutine function is fine too).
MetricsSource = Callable[[], "EngineFigures | Awaitable[EngineFigures]"]

_NO_SUBPROTOCOL = "No websocket subprotocol: ask for 'api' or 'events'"
_SHUTDOWN_TIMEOUT = 5.0


class EventSource(Protocol):
    """What the server needs of the engine's event bus."""

    def subscribe(self, subscriber: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``subscriber`` for every event; returns the function that stops it."""
        ...


def default_static_dir() -> Path:
    """The web UI's directory, ``evqueue.web.STATIC_DIR``."""
    # evqueue.web sits above server in the layers, but it is data only (a directory of files),
    # so the listener reads its location here rather than having every caller pass it.
    from evqueue.web import STATIC_DIR

    return STATIC_DIR


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


class WsServer:
    """The websocket/HTTP listener of one node.

    Args:
        ctx: the node's API context (configuration, counters).
        dispatcher: runs API commands.
        events: the engine's event bus; ``ctx.services.events`` when None.
        authenticator: the login handshake shared with the TCP listener; one is built from the
            configuration when None.
        metrics_source: gives the engine's figures for ``/metrics``.
        static_dir: the web UI's files; :func:`default_static_dir` when None.
    """

    def __init__(self, ctx: ApiContext, dispatcher: Dispatcher, *,
                 events: EventSource | None = None,
                 authenticator: Authenticator | None = None,
                 metrics_source: MetricsSource | None = None,
                 static_dir: Path | str | None = None,
                 turns: Turns | None = None) -> None:
        cfg = ctx.cfg
        self.turns = turns or Turns()
        self.ctx = ctx
        self.dispatcher = dispatcher
        self.events = events if events is not None else ctx.services.events
        self.authenticator = authenticator or Authenticator(
            cfg, ctx.db, secret=load_secret(cfg), modules=modules_served(dispatcher.groups))
        self.metrics_source = metrics_source
        self.static_dir = Path(static_dir) if static_dir is not None else default_static_dir()
        self.settings = WsSettings.from_config(cfg)
        self.max_connections = int(cfg["ws.connections.max"])
        self.max_port_connections = self.max_connections + int(cfg["ws.http.connections.max"])
        self.http_timeout = float(cfg["ws.http.timeout"]) or None
        self.keepalive = float(cfg["ws.keepalive"]) or None
        self.origins = frozenset(o.strip() for o in cfg["ws.origins"].split(",") if o.strip())
        self.workers = asyncio.Semaphore(max(1, int(cfg["ws.workers"])))
        self.port: int | None = None
        self._connections: set[WsConnection] = set()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._acceptor: Acceptor | None = None
        self._guard: PortGuard | None = None
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def enabled(self) -> bool:
        """Whether the configuration asks for this listener (``ws.bind.ip`` not empty)."""
        return bool(self.ctx.cfg["ws.bind.ip"])

    @property
    def url(self) -> str | None:
        """``ws://host:port/`` (``wss://`` with TLS) once started, else None."""
        if self.port is None:
            return None
        ip = self.ctx.cfg["ws.bind.ip"]
        host = "0.0.0.0" if ip == "*" else ip
        scheme = "wss" if self.ctx.cfg["ws.ssl.crt"] else "ws"
        return f"{scheme}://{host}:{self.port}/"

    # --- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind and start serving (nothing when the listener is disabled).

        Raises:
            ListenError: the address cannot be bound.
            OSError: the certificate or key cannot be read (``ssl.SSLError``: not usable).
        """
        if not self.enabled or self._runner is not None:
            return
        ssl_context = self._ssl_context()
        sock = self._bind()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        app.on_shutdown.append(self._close_all)
        timeouts = {"keepalive_timeout": self.http_timeout} if self.http_timeout else {}
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT,
                               **timeouts)
        try:
            await runner.setup()
        except BaseException:
            sock.close()
            raise
        assert runner.server is not None
        self._guard = PortGuard(runner.server, max_connections=self.max_port_connections,
                                header_timeout=self.http_timeout, login_max=AUTH_MAX_SIZE,
                                ssl_context=ssl_context)
        self._runner = runner
        self.port = sock.getsockname()[1]
        self._acceptor = Acceptor(sock, self._guard.accept, name=self.url or "")
        self._acceptor.start()
        if self.events is not None:
            self._unsubscribe = self.events.subscribe(self._on_event)
        log.log(25, "websocket/HTTP listening on %s", self.url)

    async def stop(self) -> None:
        """Stop accepting, close every websocket (1001), release the port."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._acceptor is not None:
            self._acceptor.close()
            self._acceptor = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
            self.port = None
        if self._guard is not None:
            guard, self._guard = self._guard, None
            await guard.close()

    async def __aenter__(self) -> WsServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _bind(self) -> socket.socket:
        cfg = self.ctx.cfg
        ip, port = cfg["ws.bind.ip"], cfg["ws.bind.port"]
        try:
            return socket.create_server(("" if ip == "*" else ip, port),
                                        backlog=cfg["ws.listen.backlog"])
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ListenError(f"ws.bind.port: port {port} is already in use on {ip}") from None
            raise ListenError(f"ws.bind.ip/ws.bind.port: cannot listen on {ip}:{port}: "
                              f"{exc.strerror or exc}") from None

    def _ssl_context(self) -> ssl.SSLContext | None:
        cfg = self.ctx.cfg
        crt, key = cfg.path("ws.ssl.crt"), cfg.path("ws.ssl.key")
        if not (crt and key):
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(crt, key)
        return context

    async def _close_all(self, app: web.Application) -> None:
        await asyncio.gather(*(conn.close(CLOSE_GOING_AWAY, "Server shutdown")
                               for conn in list(self._connections)))

    def _on_event(self, event: Event) -> None:
        for conn in list(self._connections):
            conn.on_event(event)

    # --- requests -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self._guard is not None:
            self._guard.request_arrived(request.transport)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        if request.method not in ("GET", "HEAD"):
            return _text(403, "Forbidden")
        path = request.path
        if path in ("/", "/index.html"):
            return self._file("index.html")
        if path == "/healthz":
            health = node_health(self.ctx)
            report = {"status": health.status, "node": self.ctx.node,
                      "uptime": self.ctx.uptime()}
            if health.problems:
                report["problems"] = list(health.problems)
            return web.json_response(report, status=503 if health.problems else 200)
        if path == "/metrics":
            return await self._metrics()
        if path.startswith("/static/"):
            return self._file(path[len("/static/"):])
        return _text(403, "Forbidden")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        refusal = self._refusal(request)
        if refusal is not None:
            return refusal
        if (self._guard is not None and self.authenticator.enabled
                and not self._guard.limit_first_message(request.transport)):
            return _text(400, "Data sent before the websocket handshake was answered")
        ws = web.WebSocketResponse(protocols=SUBPROTOCOLS, heartbeat=self.keepalive,
                                   max_msg_size=self.settings.max_message)
        conn = WsConnection(ws, request, "", ctx=self.ctx, dispatcher=self.dispatcher,
                            authenticator=self.authenticator, settings=self.settings,
                            workers=self.workers, conn_id=next(self._ids), turns=self.turns)
        self._connections.add(conn)  # before the first await: the limit holds under load
        try:
            await ws.prepare(request)
            if ws.ws_protocol is None:
                await conn.close(CLOSE_PROTOCOL_ERROR, _NO_SUBPROTOCOL)
                return ws
            conn.protocol = ws.ws_protocol
            conn.log.info("%s connection from %s", conn.protocol, conn.peer)
            await conn.run()
        finally:
            self._connections.discard(conn)
        return ws

    def _refusal(self, request: web.Request) -> web.Response | None:
        """The HTTP answer refusing an upgrade, or None to accept it."""
        origin = request.headers.get("Origin")
        if self.origins and origin is not None and origin not in self.origins:
            # The page this node serves itself is always allowed.
            if origin.split("://", 1)[-1] != request.host:
                log.warning("websocket from origin %s refused (ws.origins)", origin)
                return _text(403, f"Origin not allowed: {origin}")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                   if p.strip()]
        if offered and not set(offered) & set(SUBPROTOCOLS):
            return _text(400, f"Unsupported websocket subprotocol: {', '.join(offered)} "
                              "(this server speaks 'api' and 'events')")
        if len(self._connections) >= self.max_connections:
            log.warning("max websocket connections reached (%d), refusing one",
                        self.max_connections)
            return _text(503, "Too many websocket connections")
        return None

    def _file(self, relative: str) -> web.StreamResponse:
        root = self.static_dir
        if root is None or not root.is_dir():
            return _text(404, "The web UI is not installed on this node")
        root = root.resolve()
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return _text(404, "Not Found")
        return web.FileResponse(target, headers={"Cache-Control": "no-cache"})

    async def _metrics(self) -> web.Response:
        figures: EngineFigures | None = None
        if self.metrics_source is not None:
            try:
                result = self.metrics_source()
                figures = await result if inspect.isawaitable(result) else result
            except Exception:  # the node figures are still worth serving
                log.exception("metrics source failed")
        text = render_metrics(node=self.ctx.node, version=EVQUEUE_VERSION,
                              uptime=self.ctx.uptime(), stats=self.ctx.stats, engine=figures,
                              health=node_health(self.ctx))
        return web.Response(body=text.encode("utf-8"), headers={"Content-Type": CONTENT_TYPE})
