"""The XML API listeners: TCP and a unix socket, one asyncio task per connection.

Rules (protocol.md §1, §2):

- TCP listens on ``network.bind.ip`` / ``network.bind.port`` (``*`` = every IPv4 address, an
  empty address disables it, port 0 picks a free port); replies go out with TCP_NODELAY, each
  with its newline; the replies of pipelined commands answered in one loop turn share one
  write (a command that waits lets the replies before it go first). The unix socket listens
  on ``network.bind.path`` (empty disables it): a stale socket file is replaced, a live one
  or a file that is not a socket is a start-up error; the socket gets owner
  ``network.bind.path.owner``, group ``network.bind.path.group`` (0: left as created) and mode
  ``network.bind.path.mode`` before it accepts anything, and is removed when the listener
  stops.
- A connection: the challenge (or the greeting straight away when authentication is disabled),
  the login, the greeting, then commands. Bytes go through one
  :class:`~evqueue.protocol.ApiProtocol`; every request gets exactly one response, in order,
  pipelined ones included. ``<quit/>`` closes the connection without a response.
- Connections are accepted by :class:`~evqueue.server.acceptor.Acceptor`: when the process
  runs out of descriptors a listener rests a second, with one log line a second at most.
- Limits, so that clients that never log in cannot lock the others out:

  * at most ``network.connections.max`` (M) connections;
  * TCP ones take at most M - R slots: R = M // 8 (at least 1, none when M < 2 or the unix
    socket is off) are kept for the unix socket, so a local admin gets in whatever TCP clients
    do;
  * per listener, at most (M + 1) // 2 connections waiting to log in, so logged-in clients keep
    the other half;
  * the whole login, from accept to greeting, within ``network.login.timeout`` seconds, however
    slowly the bytes come (else :data:`LOGIN_TIMEOUT_ERROR` and close).

  A connection past a limit is sent one KO "Max API connections reached" and closed, the others
  are untouched (a flood of refusals is logged once a second). A connection idle for
  ``network.rcv.timeout`` seconds while a request is expected (login included) gets evQueue's
  error line and is closed; a reply not written within ``network.snd.timeout`` seconds closes
  the connection; messages are limited to :data:`AUTH_MAX_SIZE` bytes until login, then to
  ``network.message.maxsize``. A timeout of 0 means none.
- Any fatal error (unreadable XML, too large, login failure) is answered with one KO response,
  then the connection closes; nothing one connection does affects another.
- Commands run one after the other, except pipelined asynchronous launches, which wait for the
  store together (:mod:`evqueue.api.pipelining`, :mod:`evqueue.server.overlapping`); replies
  stay in order.
- A command whose handler takes long (a synchronous launch, ``instance wait``) is kept company:
  every ``dpd.interval`` seconds while it is pending the connection writes ``<ping />\\n``. If that
  write fails the peer is gone and the handler is cancelled.
- Shutdown: the listeners close first; idle connections close at once, a connection in the middle
  of a command gets :data:`SHUTDOWN_GRACE` seconds to send its response (``control shutdown``
  answers OK before the node goes).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.login import Authenticator
from evqueue.api.pipelining import overlappable
from evqueue.api.session import Session, User
from evqueue.protocol import (
    CLOSED,
    DPD_PING,
    ApiError,
    ApiProtocol,
    Command,
    SqlError,
    Transport,
    frame,
)
from evqueue.server.acceptor import Acceptor
from evqueue.server.memory import MemoryTrimmer
from evqueue.server.overlapping import OverlappingCommands
from evqueue.server.throttled_log import ThrottledLog
from evqueue.server.turns import Turns, is_launch
from evqueue.storage.errors import StorageError

__all__ = [
    "AUTH_MAX_SIZE",
    "IDLE_ERROR",
    "LOGIN_TIMEOUT_ERROR",
    "SHUTDOWN_GRACE",
    "ApiServer",
    "ListenError",
    "unix_reserve",
]

log = logging.getLogger("evqueue.server.api")

#: Largest message accepted before login (an ``<auth …/>`` is about 100 bytes).
AUTH_MAX_SIZE = 4096
#: What an idle connection is told before it is closed (evQueue's words, protocol.md §1.5).
IDLE_ERROR = "Error reading socket, recv() returned error 11"
#: What a connection that did not log in within ``network.login.timeout`` is told.
LOGIN_TIMEOUT_ERROR = "Timed out waiting for authentication"
#: Seconds a connection in the middle of a command may take to answer once the node stops.
SHUTDOWN_GRACE = 2.0
_TOO_MANY = "Max API connections reached"
_READ_CHUNK = 64 * 1024
#: Commands of one connection running at once (pipelined asynchronous launches).
_OVERLAP_MAX = 256

Kind = Literal["tcp", "unix"]


class ListenError(Exception):
    """A listener cannot start; the message names the configuration key at fault."""


class _Closed(Exception):
    """The peer is gone or too slow: stop serving this connection."""


def _timeout(seconds: int) -> float | None:
    return float(seconds) if seconds > 0 else None


def unix_reserve(max_connections: int) -> int:
    """The slots of ``network.connections.max`` that only unix-socket connections may use."""
    return max(1, max_connections // 8) if max_connections >= 2 else 0


class _Connection:
    """One client connection, from accept to close."""

    def __init__(self, server: ApiServer, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, kind: Kind) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.kind = kind
        peer = writer.get_extra_info("peername")
        self.peer = peer[0] if kind == "tcp" and isinstance(peer, tuple) else ""
        self.protocol = ApiProtocol(node=server.ctx.node, transport=Transport.STREAM,
                                    max_size=AUTH_MAX_SIZE)
        self.busy = False
        self.closing = False
        self.logged_in = False
        # Replies of pipelined commands go out together, once per loop turn (see _reply).
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_handle: asyncio.Handle | None = None
        # Dead-peer detection (_keep_company): the command waited for (since when: its start
        # or its last ping, and its task), and the one timer of the connection.
        self._waiting: tuple[float, asyncio.Task[Any] | None] | None = None
        self._ping_lost = False
        self._dpd_timer: asyncio.TimerHandle | None = None

    # --- life -------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Log in, then answer commands until the peer quits, fails or the node stops."""
        try:
            user = await self._login_in_time()
            if user is not None:
                task = asyncio.current_task()
                assert task is not None
                # a deleted user's session is closed like any at shutdown (stop)
                with self.server.ctx.sessions.opened(user, self.kind, self.peer,
                                                     lambda reason: self.stop(task)) as session:
                    await self._commands(session)
        except ApiError as error:
            self.server.ctx.stats.api_exceptions += 1
            log.info("API connection from %s closed on an error: %s", self.who(),
                     error.message)
            with contextlib.suppress(_Closed):
                await self._send(self.protocol.send(error))
        except _Closed:
            pass
        except StorageError as exc:  # the store is away during the login
            # The details (driver, server address, database name, file path) go to the log
            # only: a peer that has not logged in learns nothing about the store.
            log.warning("API connection from %s refused: database error: %s", self.who(), exc)
            with contextlib.suppress(_Closed):
                await self._send(self.protocol.send(SqlError("Database error", fatal=True)))
        except Exception:  # a failing part: this peer only
            log.exception("API connection from %s failed", self.who())
            with contextlib.suppress(_Closed):
                await self._send(self.protocol.send(ApiError("Internal error", fatal=True)))

    async def refuse(self, message: str) -> None:
        """Send one KO response and close (too many connections)."""
        with contextlib.suppress(_Closed):
            await self._send(self.protocol.send(ApiError(message, fatal=True)))

    def stop(self, task: asyncio.Task[Any]) -> None:
        """The node stops: close now if idle, after the current response otherwise."""
        self.closing = True
        if not self.busy:
            task.cancel()

    async def close(self) -> None:
        """Send what is queued, then close the socket (errors ignored: the peer may be gone
        already)."""
        if self._dpd_timer is not None:
            self._dpd_timer.cancel()
            self._dpd_timer = None
        with contextlib.suppress(OSError):
            self._flush()
        self.writer.close()
        with contextlib.suppress(OSError, asyncio.CancelledError):
            await self.writer.wait_closed()

    def who(self) -> str:
        """The peer, for log lines."""
        return self.peer or "the unix socket"

    # --- phases -----------------------------------------------------------------------------

    async def _login_in_time(self) -> User | None:
        """:meth:`_login` within ``network.login.timeout`` (reads inside keep their own idle
        timeout: a byte now and then does not extend this one).

        Raises:
            ApiError: the deadline passed.
        """
        try:
            async with asyncio.timeout(self.server.login_timeout):
                return await self._login()
        except TimeoutError:
            raise ApiError(LOGIN_TIMEOUT_ERROR, fatal=True) from None

    async def _login(self) -> User | None:
        auth = self.server.auth
        if not auth.enabled:
            user = auth.anonymous()
        else:
            challenge = auth.new_challenge()
            await self._send(frame(auth.challenge(challenge), Transport.STREAM))
            first = await self._next_command()
            if first is None:
                return None
            user = await auth.authenticate(first, challenge, self.peer)
        self.logged_in = True
        self.protocol.max_size = self.server.max_size
        await self._send(frame(auth.greeting(user), Transport.STREAM))
        return user

    async def _commands(self, session: Session) -> None:
        ctx, dispatcher = self.server.ctx, self.server.dispatcher
        running = OverlappingCommands()

        async def answer_running() -> None:
            while running:
                task = running.oldest()
                response = await self._keep_company(asyncio.shield(task))
                await self._reply(self.protocol.send(response))
            self.busy = False

        try:
            while not self.closing:
                command = await self._next_command(before_read=answer_running)
                if command is None or command.group == "quit":
                    await answer_running()
                    return
                self.busy = True
                # A launch overlaps the ones around it; alone, it runs like any command.
                if (overlappable(command) and len(running) < _OVERLAP_MAX
                        and (running or self.protocol.buffered)):
                    self.server.turns.pipelined(self)
                    running.start(dispatcher.dispatch(ctx, session, command))
                    continue
                if is_launch(command) and not running and not self.protocol.buffered:
                    self.server.turns.launched_alone(self)  # it waits for this one reply
                await answer_running()
                self.busy = True
                response = await self._keep_company(dispatcher.dispatch(ctx, session, command))
                await self._reply(self.protocol.send(response))
                self.busy = False
            await answer_running()  # the node stops: launches under way are answered too
        finally:
            self.server.turns.gone(self)
            await running.settle()

    # --- I/O --------------------------------------------------------------------------------

    async def _next_command(
            self, before_read: Callable[[], Awaitable[None]] | None = None) -> Command | None:
        """The next complete message, or None once the peer has closed between messages;
        ``before_read`` is awaited before waiting for the network.

        Raises:
            ApiError: the stream is not readable as XML messages, or idle for too long.
        """
        while True:
            event = self.protocol.next_event()
            if isinstance(event, Command):
                return event
            if before_read is not None:
                await before_read()
            if event is CLOSED:
                return None
            try:
                # asyncio.timeout, not wait_for: no task per read (a loop turn per command).
                async with asyncio.timeout(self.server.rcv_timeout):
                    data = await self.reader.read(_READ_CHUNK)
            except TimeoutError:
                raise ApiError(IDLE_ERROR, fatal=True) from None
            except OSError:
                raise _Closed() from None
            if data:
                self.server.trimmer.received(len(data))
                self.protocol.receive_data(data)
            else:
                self.protocol.receive_eof()

    async def _reply(self, data: bytes) -> None:
        """Send a command's reply at the end of this loop turn, with the replies of the other
        commands already received (one write for a pipelined batch, not one per reply). A
        command that waits lets the replies before it go at once, and so does the last
        command received: nothing is left to answer in the same write."""
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= _READ_CHUNK:
            await self._send(b"")
        elif not self.protocol.buffered:
            self._flush()
        elif self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write the replies queued by :meth:`_reply` (in order, before anything else)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._out_size = 0
            if not self.writer.is_closing():
                self.writer.write(data)

    async def _send(self, data: bytes) -> None:
        """Write one whole message (after the queued replies), within ``network.snd.timeout``."""
        self._flush()
        if self.writer.is_closing():
            raise _Closed()
        try:
            if data:
                self.writer.write(data)
            # Most replies go straight to the kernel: wait only for what it did not take.
            if self.writer.transport.get_write_buffer_size():
                async with asyncio.timeout(self.server.snd_timeout):
                    await self.writer.drain()
        except (OSError, TimeoutError):
            raise _Closed() from None

    async def _keep_company(self, work: Awaitable[Any]) -> Any:
        """Await ``work``, writing a DPD ping every ``dpd.interval`` seconds meanwhile.

        The pings come from one timer per connection, set when a command starts and none is
        set, and left to run out rather than cancelled: a command that answers at once costs
        neither a task nor a timer of its own. A ping that cannot be written means the peer
        is gone: the command is cancelled.
        """
        interval = self.server.dpd_interval
        if interval is None:
            return await work
        loop = asyncio.get_running_loop()
        started = loop.time()
        self._waiting = (started, asyncio.current_task())
        self._ping_lost = False
        if self._dpd_timer is None:
            self._dpd_timer = loop.call_at(started + interval, self._dpd, interval)
        try:
            return await work
        except asyncio.CancelledError:
            if self._ping_lost:
                raise _Closed() from None
            raise
        finally:
            self._waiting = None

    def _dpd(self, interval: float) -> None:
        """The connection's DPD timer: ping if the command waited for has waited
        ``interval`` since it started or since the last ping; set again while one waits."""
        self._dpd_timer = None
        if self._waiting is None:
            return  # idle: the next command sets the timer again
        since, task = self._waiting
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < since + interval:  # a later command than the one the timer was set for
            self._dpd_timer = loop.call_at(since + interval, self._dpd, interval)
            return
        if self.writer.is_closing() or self.writer.transport.get_write_buffer_size() > (
                _READ_CHUNK):
            self._ping_lost = True  # gone, or not reading: the peer will not get a reply
            if task is not None:
                task.cancel()
            return
        self._flush()
        self.writer.write(DPD_PING)
        self._waiting = (now, task)
        self._dpd_timer = loop.call_at(now + interval, self._dpd, interval)


class ApiServer:
    """The node's XML API listeners and their connections.

    Args:
        ctx: what handlers work with (configuration, store, counters).
        dispatcher: routes commands to handlers.
        auth: the login of every connection.
    """

    def __init__(self, ctx: ApiContext, dispatcher: Dispatcher, auth: Authenticator,
                 turns: Turns | None = None) -> None:
        self.ctx = ctx
        self.turns = turns or Turns()
        self.dispatcher = dispatcher
        self.auth = auth
        cfg = ctx.cfg
        self.max_connections: int = cfg["network.connections.max"]
        both = bool(cfg["network.bind.ip"]) and bool(cfg["network.bind.path"])
        self.unix_reserve = unix_reserve(self.max_connections) if both else 0
        self.max_waiting = (self.max_connections + 1) // 2
        self.login_timeout = _timeout(cfg["network.login.timeout"])
        self.rcv_timeout = _timeout(cfg["network.rcv.timeout"])
        self.snd_timeout = _timeout(cfg["network.snd.timeout"])
        self.dpd_interval = _timeout(cfg["dpd.interval"])
        self.trimmer = MemoryTrimmer()  # heap pages of large requests go back to the system
        self.max_size: int = cfg["network.message.maxsize"]
        self._acceptors: list[Acceptor] = []
        self._opening: set[asyncio.Task[None]] = set()  # accepted, not yet a connection
        self._connections: dict[asyncio.Task[Any], _Connection] = {}
        self._refusals = ThrottledLog(log, logging.WARNING)
        self._unix_inode: int | None = None
        self.tcp_address: tuple[str, int] | None = None
        self.unix_path: str | None = None

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every configured listener.

        Raises:
            ListenError: an address is in use, a socket path is taken, a key is invalid.
        """
        try:
            await self._start_tcp()
            await self._start_unix()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop listening, then close every connection (see the module rules)."""
        self.trimmer.close()
        for acceptor in self._acceptors:
            acceptor.close()
        self._acceptors.clear()
        self._remove_socket_file()
        for opening in list(self._opening):
            opening.cancel()
        await asyncio.gather(*self._opening, return_exceptions=True)
        for task, connection in list(self._connections.items()):
            connection.stop(task)
        tasks = list(self._connections)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def connections(self) -> int:
        """How many client connections are open."""
        return len(self._connections)

    # --- listeners --------------------------------------------------------------------------

    async def _start_tcp(self) -> None:
        cfg = self.ctx.cfg
        host: str = cfg["network.bind.ip"]
        if not host:
            return
        port: int = cfg["network.bind.port"]
        bind = "0.0.0.0" if host == "*" else host
        family = socket.AF_INET6 if ":" in bind else socket.AF_INET
        try:
            sock = socket.create_server((bind, port), family=family,
                                        backlog=cfg["network.listen.backlog"])
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ListenError(f"network.bind.port: port {port} is already in use "
                                  f"on {host}") from None
            raise ListenError(f"network.bind.ip/network.bind.port: cannot listen on "
                              f"{host}:{port}: {exc.strerror or exc}") from None
        address = sock.getsockname()
        self.tcp_address = (address[0], address[1])
        self._listen(sock, "tcp", f"tcp://{address[0]}:{address[1]}")
        log.log(25, "API listening on tcp://%s:%d", *self.tcp_address)

    async def _start_unix(self) -> None:
        cfg = self.ctx.cfg
        path = cfg.path("network.bind.path")
        if not path:
            return
        mode = _socket_mode(cfg["network.bind.path.mode"])
        _clear_stale_socket(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            self._unix_inode = os.stat(path).st_ino
        except OSError as exc:
            sock.close()
            raise ListenError(f"network.bind.path: cannot bind '{path}': "
                              f"{exc.strerror or exc}") from None
        try:
            # Before listen(): nobody can connect while owner and mode are still the defaults.
            _set_owner(path, cfg["network.bind.path.owner"], cfg["network.bind.path.group"])
            try:
                os.chmod(path, mode)
            except OSError as exc:
                raise ListenError(f"network.bind.path.mode: cannot set the mode of '{path}': "
                                  f"{exc.strerror or exc}") from None
        except BaseException:
            sock.close()
            with contextlib.suppress(OSError):
                os.unlink(path)  # the file we just bound
            raise
        self.unix_path = path
        sock.listen(cfg["network.listen.backlog"])
        self._listen(sock, "unix", f"unix://{path}")
        info = os.stat(path)
        log.log(25, "API listening on unix://%s (mode %04o, uid %d, gid %d)", path, mode,
                info.st_uid, info.st_gid)

    def _remove_socket_file(self) -> None:
        if self.unix_path is None or self._unix_inode is None:
            return
        with contextlib.suppress(OSError):
            # Only our own socket: another process may have replaced the file since.
            if os.stat(self.unix_path).st_ino == self._unix_inode:
                os.unlink(self.unix_path)
        self._unix_inode = None

    def _listen(self, sock: socket.socket, kind: Kind, name: str) -> None:
        acceptor = Acceptor(sock, lambda conn: self._accepted(conn, kind), name=name)
        self._acceptors.append(acceptor)
        acceptor.start()

    # --- connections ------------------------------------------------------------------------

    def _accepted(self, conn: socket.socket, kind: Kind) -> None:
        task = asyncio.get_running_loop().create_task(self._open(conn, kind))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket, kind: Kind) -> None:
        """Give an accepted socket its stream (then :meth:`_client` serves it)."""
        loop = asyncio.get_running_loop()
        client = self._tcp_client if kind == "tcp" else self._unix_client

        def protocol() -> asyncio.StreamReaderProtocol:
            return asyncio.StreamReaderProtocol(asyncio.StreamReader(loop=loop), client,
                                                loop=loop)

        try:
            await loop.connect_accepted_socket(protocol, conn)
        except OSError:  # the peer left before we could set it up
            conn.close()

    async def _tcp_client(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await self._client(reader, writer, "tcp")

    async def _unix_client(self, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> None:
        await self._client(reader, writer, "unix")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      kind: Kind) -> None:
        connection = _Connection(self, reader, writer, kind)
        stats = self.ctx.stats
        refusal = self._refusal(kind)
        if refusal is not None:
            self._refusals("%s (%s), refusing a connection from %s", _TOO_MANY, refusal,
                           connection.who())
            await connection.refuse(_TOO_MANY)
            await connection.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = connection
        stats.accepted_api_connections += 1
        stats.current_api_connections += 1
        log.info("accepted API connection from %s", connection.who())
        try:
            await connection.serve()
        finally:
            stats.current_api_connections -= 1
            del self._connections[task]
            await connection.close()

    def _refusal(self, kind: Kind) -> str | None:
        """Why a new connection on ``kind`` cannot be served now (None: it can)."""
        if len(self._connections) >= self.max_connections:
            return f"network.connections.max is {self.max_connections}"
        connections = self._connections.values()
        tcp_max = self.max_connections - self.unix_reserve
        if kind == "tcp" and sum(c.kind == "tcp" for c in connections) >= tcp_max:
            return f"TCP has its {tcp_max}, the others are kept for the unix socket"
        if sum(c.kind == kind and not c.logged_in for c in connections) >= self.max_waiting:
            return f"{self.max_waiting} {kind} connections are waiting to log in"
        return None


def _socket_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise ListenError(f"network.bind.path.mode: '{text}' is not an octal mode such as 0660")
    return mode


def _set_owner(path: str, uid: int, gid: int) -> None:
    """chown the socket file (0 leaves the owner or group as created).

    Raises:
        ListenError: the change is not allowed (only root may give a file away).
    """
    if not (uid or gid):
        return
    try:
        os.chown(path, uid or -1, gid or -1)
    except OSError as exc:
        keys = "/".join(key for key, value in (("network.bind.path.owner", uid),
                                                ("network.bind.path.group", gid)) if value)
        raise ListenError(f"{keys}: cannot change the owner of '{path}': "
                          f"{exc.strerror or exc}") from None


def _clear_stale_socket(path: str) -> None:
    """Remove a socket file left by a node that is gone; refuse anything else."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(info.st_mode):
        raise ListenError(f"network.bind.path: '{path}' exists and is not a socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(path)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # nobody listens: stale
            return
        except OSError as exc:
            raise ListenError(f"network.bind.path: cannot use '{path}': "
                              f"{exc.strerror or exc}") from None
    raise ListenError(f"network.bind.path: another process is listening on '{path}'")
