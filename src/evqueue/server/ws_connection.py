"""One websocket connection speaking evQueue's ``api`` or ``events`` protocol (protocol.md §6).

Rules:

- Every message is one TEXT frame holding one XML document, without a trailing newline. A frame
  that is not exactly one acceptable document closes the connection with code 1011 and the
  reason ``Invalid XML document``; so does every other fatal error, with its own message.
- Login is the TCP one (the shared :class:`~evqueue.api.login.Authenticator`): the challenge
  frame, the client's ``<auth>`` frame (at most ``AUTH_MAX_SIZE`` bytes, as on TCP; the
  listener refuses a larger one from its frame header) within ``ws.rcv.timeout`` or
  ``network.login.timeout`` seconds, the shorter, then ``<ready>``; or
  ``<ready>`` straight away when ``core.auth.enable=no``. The connection's user then runs every
  command of the connection.
- ``api``: frames are dispatched like TCP commands, one at a time and answered in order; a
  reader task keeps reading (and answering pings) while a long command runs, up to
  :data:`API_PIPELINE` commands ahead. ``<quit/>`` is ignored. A synchronous launch or
  ``instance wait`` simply takes the time it takes (no dead-peer pings on a websocket).
- ``events``: only ``<event action=subscribe|unsubscribe|unsubscribeall|ack>`` is accepted and
  nothing is answered to it. Pushes are decided by :class:`~evqueue.server.ws_events.EventRouter`
  and computed by running the subscription's command as the connection's user, at most
  ``ws.workers`` at a time across the node. Each push is the command's response with root
  attributes ``event-id``, ``external-id`` (when not 0) and ``object-id`` (when known) added, KO
  responses included, so a client can always acknowledge it.
- Each send must complete within ``ws.snd.timeout`` seconds, or the connection is dropped.
- Counters: ``accepted_ws_connections``, ``current_ws_connections``, ``ws_queries`` (API commands
  and push commands), ``ws_subscriptions`` (active subscriptions), ``ws_events`` (pushes sent).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.login import Authenticator
from evqueue.api.session import Session, User
from evqueue.config import Config
from evqueue.engine.events import Event, EventType
from evqueue.protocol import ApiError, Command, Response, parse_command, serialize
from evqueue.server.api_server import AUTH_MAX_SIZE, LOGIN_TIMEOUT_ERROR
from evqueue.server.turns import Turns, is_launch
from evqueue.server.ws_events import (
    MAX_SUBSCRIPTIONS,
    EventRouter,
    Push,
    Subscription,
    TooManySubscriptions,
)

__all__ = [
    "API_PIPELINE",
    "CLOSE_GOING_AWAY",
    "CLOSE_POLICY_VIOLATION",
    "CLOSE_PROTOCOL_ERROR",
    "CLOSE_UNEXPECTED",
    "CloseConnection",
    "WsConnection",
    "WsSettings",
]

log = logging.getLogger("evqueue.server.ws")

#: Close codes used (RFC 6455 §7.4.1).
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_POLICY_VIOLATION = 1008  # the session's user was deleted
CLOSE_UNEXPECTED = 1011
#: Commands read ahead of the one running on an ``api`` connection.
API_PIPELINE = 16
#: Longest close reason: a control frame payload is at most 125 bytes, 2 of them the code.
_MAX_REASON = 123


class CloseConnection(Exception):
    """End the connection with a close frame (code and reason)."""

    def __init__(self, reason: str, code: int = CLOSE_UNEXPECTED) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class _ConnectionLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes each line with the connection's number."""

    def process(self, msg: object, kwargs: Any) -> tuple[object, Any]:
        assert self.extra is not None
        return f"ws#{self.extra['connection']} {msg}", kwargs


class _Gone(Exception):
    """The peer cannot be written to any more."""


@dataclass(frozen=True)
class WsSettings:
    """The configuration a websocket connection needs."""

    throttling: bool = True
    auth_timeout: float | None = 30.0
    send_timeout: float | None = 30.0
    max_message: int = 16 * 1024 * 1024
    max_subscriptions: int = MAX_SUBSCRIPTIONS

    @classmethod
    def from_config(cls, cfg: Config) -> WsSettings:
        """Read ``ws.events.throttling``, ``ws.rcv.timeout`` and ``network.login.timeout`` (the
        login gets the shorter), ``ws.snd.timeout`` and ``network.message.maxsize`` (0 timeouts
        mean none)."""
        login = [float(t) for t in (cfg["ws.rcv.timeout"], cfg["network.login.timeout"]) if t]
        return cls(
            throttling=bool(cfg["ws.events.throttling"]),
            auth_timeout=min(login, default=None),
            send_timeout=float(cfg["ws.snd.timeout"]) or None,
            max_message=int(cfg["network.message.maxsize"]),
        )


def _decode_api_cmd(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CloseConnection("Invalid base64 sequence") from None


class WsConnection:
    """Serves one accepted websocket until either side closes it.

    Args:
        ws: the prepared websocket.
        request: the HTTP request it was upgraded from (for the peer and its transport).
        protocol: ``api`` or ``events``.
        ctx: the node's API context.
        dispatcher: runs commands.
        authenticator: the node's login handshake.
        settings: limits and timeouts.
        workers: bounds the push commands running at once on the node.
        conn_id: a number identifying the connection in logs.
        turns: the node's :class:`~evqueue.server.turns.Turns` (an ``api`` connection that
            launches one at a time waits in turn).
    """

    def __init__(self, ws: web.WebSocketResponse, request: web.BaseRequest, protocol: str, *,
                 ctx: ApiContext, dispatcher: Dispatcher, authenticator: Authenticator,
                 settings: WsSettings, workers: asyncio.Semaphore, conn_id: int,
                 turns: Turns | None = None) -> None:
        self.ws = ws
        self.request = request
        self.protocol = protocol
        self.ctx = ctx
        self.dispatcher = dispatcher
        self.authenticator = authenticator
        self.settings = settings
        self.workers = workers
        self.turns = turns or Turns()
        self.peer = request.remote or ""
        self.session: Session | None = None
        self.router: EventRouter | None = None  # set once an events connection is ready
        self.log = _ConnectionLog(log, {"connection": conn_id})
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- life cycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Log in, then serve the protocol until the connection ends."""
        stats = self.ctx.stats
        stats.accepted_ws_connections += 1
        stats.current_ws_connections += 1
        try:
            user = await self._login()
            with self.ctx.sessions.opened(user, "ws", self.peer, self._revoked) as self.session:
                if self.protocol == "api":
                    await self._serve_api()
                else:
                    await self._serve_events()
        except CloseConnection as exc:
            self.log.info("closing websocket (%d): %s", exc.code, exc.reason)
            await self.close(exc.code, exc.reason)
        except _Gone:
            pass
        finally:
            router, self.router = self.router, None  # no push starts from now on
            await self._stop_tasks()
            if router is not None:
                stats.ws_subscriptions -= router.unsubscribe_all()
            stats.current_ws_connections -= 1

    def _revoked(self, reason: str) -> None:
        """The session's user was deleted: close the websocket (the receive loop then ends)."""
        self.log.info("closing websocket (%d): %s", CLOSE_POLICY_VIOLATION, reason)
        self._spawn(self.close(CLOSE_POLICY_VIOLATION, reason))

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame (once) with ``reason`` cut to what a frame can carry."""
        message = reason.encode("utf-8")[:_MAX_REASON]
        with contextlib.suppress(ConnectionError, RuntimeError, TimeoutError):
            await self.ws.close(code=code, message=message)

    async def _stop_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- frames -------------------------------------------------------------------------------

    async def _send(self, data: bytes) -> None:
        """Write one text frame; drop the connection if it takes longer than allowed."""
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("> %s", data[:500].decode("utf-8", "replace"))
        async with self._send_lock:
            if self.ws.closed:
                raise _Gone()
            try:
                await asyncio.wait_for(self.ws.send_str(data.decode("utf-8")),
                                       self.settings.send_timeout)
            except TimeoutError:
                self.log.warning("websocket send timed out, dropping the connection")
                if self.request.transport is not None:
                    self.request.transport.abort()
                raise _Gone() from None
            except (ConnectionError, RuntimeError):
                raise _Gone() from None

    async def _receive(self, timeout: float | None = None,
                       max_size: int | None = None) -> Command | None:
        """The next command (of at most ``max_size`` bytes, ``network.message.maxsize`` by
        default), or None once the peer has closed.

        Raises:
            CloseConnection: a frame that is not one XML document, or the timeout expired.
        """
        while True:
            try:
                msg = await self.ws.receive(timeout=timeout)
            except TimeoutError:
                raise CloseConnection(LOGIN_TIMEOUT_ERROR) from None
            if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                break
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                            WSMsgType.ERROR):
                return None
        if self.log.isEnabledFor(logging.DEBUG):
            self.log.debug("< %s", str(msg.data)[:500])
        try:
            return parse_command(msg.data, max_size=max_size or self.settings.max_message)
        except ApiError as exc:
            raise CloseConnection(exc.message) from None

    # --- login --------------------------------------------------------------------------------

    async def _login(self) -> User:
        auth = self.authenticator
        if not auth.enabled:
            user = auth.anonymous()
        else:
            challenge = auth.new_challenge()
            await self._send(auth.challenge(challenge))
            # Kept as small as on TCP: nobody parses a large document before logging in.
            cmd = await self._receive(self.settings.auth_timeout, AUTH_MAX_SIZE)
            if cmd is None:
                raise _Gone()
            try:
                user = await auth.authenticate(cmd, challenge, self.peer)
            except ApiError as exc:
                raise CloseConnection(exc.message) from None
        await self._send(auth.greeting(user))
        return user

    # --- the api protocol ---------------------------------------------------------------------

    async def _serve_api(self) -> None:
        queue: asyncio.Queue[Command] = asyncio.Queue(API_PIPELINE)
        self._spawn(self._api_worker(queue))
        while (cmd := await self._receive()) is not None:
            await queue.put(cmd)

    async def _api_worker(self, queue: asyncio.Queue[Command]) -> None:
        assert self.session is not None
        try:
            while True:
                cmd = await queue.get()
                if cmd.group == "quit":  # evQueue ignores it on a websocket
                    continue
                self.ctx.stats.ws_queries += 1
                if is_launch(cmd):  # alone when nothing else waits in the queue
                    if queue.empty():
                        self.turns.launched_alone(self)
                    else:
                        self.turns.pipelined(self)
                response = await self.dispatcher.dispatch(self.ctx, self.session, cmd)
                await self._send(serialize(response, node=self.ctx.node))
        except _Gone:
            pass
        finally:
            self.turns.gone(self)

    # --- the events protocol ------------------------------------------------------------------

    async def _serve_events(self) -> None:
        self.router = EventRouter(throttling=self.settings.throttling,
                                  max_subscriptions=self.settings.max_subscriptions)
        while (cmd := await self._receive()) is not None:
            try:
                self._event_command(cmd)
            except ApiError as exc:
                raise CloseConnection(exc.message) from None

    def on_event(self, event: Event) -> None:
        """Trigger this connection's subscriptions matching an engine event (never blocks)."""
        if self.router is not None:
            for push in self.router.publish(event.type, event.object_id):
                self._start(push)

    def _event_command(self, cmd: Command) -> None:
        """Apply one ``<event>`` message.

        Raises:
            CloseConnection, ApiError: fatal for the connection.
        """
        assert self.router is not None
        if cmd.group != "event":
            raise CloseConnection("Only event query group is supported by this protocol")
        action = cmd.require_action()
        stats = self.ctx.stats
        if action == "subscribe":
            self._subscribe(cmd)
        elif action == "unsubscribe":
            stats.ws_subscriptions -= self.router.unsubscribe(
                self._event_type(cmd.get_str("type")), cmd.get_int("object_id", 0),
                cmd.get_int("external_id", 0))
        elif action == "unsubscribeall":
            stats.ws_subscriptions -= self.router.unsubscribe_all()
        elif action == "ack":
            self._start(self.router.ack(cmd.get_long("event_id")))
        # evQueue ignores any other action.

    def _subscribe(self, cmd: Command) -> None:
        assert self.router is not None
        sub = Subscription(
            type=self._event_type(cmd.get_str("type")),
            object_id=cmd.get_int("object_id", 0),
            external_id=cmd.get_int("external_id", 0),
            api_cmd=_decode_api_cmd(cmd.get_str("api_cmd")),
        )
        send_now = cmd.get_bool("send_now", False)
        try:
            push = self.router.subscribe(sub, send_now=send_now)
        except TooManySubscriptions as exc:
            raise CloseConnection(str(exc)) from None
        self.ctx.stats.ws_subscriptions += 1
        self._start(push)

    @staticmethod
    def _event_type(name: str) -> EventType:
        try:
            return EventType(name)
        except ValueError:
            raise CloseConnection(f"Unknown event : {name}") from None

    def _start(self, push: Push | None) -> None:
        if push is not None and self.router is not None:
            self._spawn(self._push(push))

    async def _push(self, push: Push) -> None:
        """Run a push's command and send its answer, then start the channel's next push."""
        async with self.workers:
            response = await self._run_api_cmd(push.api_cmd)
        router = self.router
        if router is None:  # the connection is ending
            return
        event_id, following = router.finish(push)
        if event_id is not None:
            attrs = dict(response.attrs)
            attrs["event-id"] = str(event_id)
            if push.external_id:
                attrs["external-id"] = str(push.external_id)
            if push.object_ids:
                attrs["object-id"] = push.object_id_text
            pushed = dataclasses.replace(response, attrs=attrs)
            try:
                await self._send(serialize(pushed, node=self.ctx.node))
            except _Gone:
                return
            self.ctx.stats.ws_events += 1
        self._start(following)

    async def _run_api_cmd(self, api_cmd: bytes) -> Response:
        assert self.session is not None
        self.ctx.stats.ws_queries += 1
        try:
            cmd = parse_command(api_cmd, max_size=self.settings.max_message)
        except ApiError as exc:
            return Response.from_error(exc)
        return await self.dispatcher.dispatch(self.ctx, self.session, cmd)
