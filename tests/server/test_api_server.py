"""The API listeners in-process, over real sockets: dead-peer pings during long commands,
shutdown, listener start-up errors, counters; and the protocol.md §9 examples that need the
definition command groups (E3, part of E8), served here next to this node's own groups."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from dataclasses import dataclass, field

import pytest

from evqueue.api import user, workflow
from evqueue.api.context import ApiContext
from evqueue.api.dispatch import Dispatcher
from evqueue.api.login import Authenticator
from evqueue.api.modules import API_MODULES, all_tables
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.config import Config
from evqueue.protocol import Command, Response, compute_response, password_key
from evqueue.server.api_server import ApiServer, ListenError
from evqueue.server.turns import TURN_ROWS
from evqueue.storage.database import Database
from evqueue.storage.errors import StorageError
from evqueue.storage.users import create_user

slow = CommandTable()


@dataclass
class SlowContext(ApiContext):
    """The node's context, plus what ``<slow action="run"/>`` reports and waits for."""

    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)


def gates(server: ApiServer) -> SlowContext:
    """The events of the slow command on this server."""
    assert isinstance(server.ctx, SlowContext)
    return server.ctx


@slow.command("slow", "run")
async def _slow_run(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    assert isinstance(ctx, SlowContext)
    ctx.slow_started.set()
    try:
        await ctx.release.wait()
    except asyncio.CancelledError:
        ctx.cancelled.set()
        raise
    return Response.success({"done": "yes"})


@slow.command("big", "get")
async def _big(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    return Response.success(payload=["x" * (32 * 1024 * 1024)])


def make_server(db: Database, sock_path: str, **settings: str) -> ApiServer:
    cfg = Config.from_mapping({
        "network.bind.ip": "127.0.0.1", "network.bind.port": "0",
        "network.bind.path": sock_path, "core.auth.enable": "no", "cluster.node.name": "n1",
        **settings})
    ctx = SlowContext(cfg=cfg, db=db)
    return ApiServer(ctx, Dispatcher([*all_tables(), slow]), Authenticator(cfg, db))


@pytest.fixture
def sock_path(tmp_path):
    return str(tmp_path / "api.sock")


async def connect(server: ApiServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open a TCP connection and read the greeting (authentication is off)."""
    assert server.tcp_address is not None
    reader, writer = await asyncio.open_connection(*server.tcp_address)
    assert (await reader.readline()).startswith(b"<ready ")
    return reader, writer


async def test_long_command_gets_dpd_pings_then_its_response(db, sock_path):
    server = make_server(db, sock_path, **{"dpd.interval": "1"})
    await server.start()
    try:
        reader, writer = await connect(server)
        writer.write(b"<slow action='run'/>\n")
        assert await asyncio.wait_for(reader.readline(), 3) == b"<ping />\n"
        gates(server).release.set()
        reply = await asyncio.wait_for(reader.readline(), 3)
        assert reply == b'<response done="yes" node="n1" status="OK"/>\n'
        writer.write(b"<ping/>\n")
        assert b'status="OK"' in await reader.readline()
        writer.close()
    finally:
        await server.stop()


async def test_dpd_pings_go_to_a_long_command_after_quick_ones_and_stop_with_it(
        db, sock_path):
    server = make_server(db, sock_path, **{"dpd.interval": "1"})
    await server.start()
    try:
        reader, writer = await connect(server)
        for _ in range(3):  # quick commands: answered, never pinged
            writer.write(b"<ping/>\n")
            assert b'status="OK"' in await asyncio.wait_for(reader.readline(), 3)
        writer.write(b"<slow action='run'/>\n")
        assert await asyncio.wait_for(reader.readline(), 3) == b"<ping />\n"
        assert await asyncio.wait_for(reader.readline(), 3) == b"<ping />\n"
        gates(server).release.set()
        assert b'done="yes"' in await asyncio.wait_for(reader.readline(), 3)
        await asyncio.sleep(1.5)  # an idle connection gets no ping
        writer.write(b"<ping/>\n")
        assert b'status="OK"' in await asyncio.wait_for(reader.readline(), 3)
        writer.close()
    finally:
        await server.stop()


async def test_replies_before_a_long_command_are_not_held_back(db, sock_path):
    server = make_server(db, sock_path)
    await server.start()
    try:
        reader, writer = await connect(server)
        writer.write(b"<ping/>" * 50 + b"<slow action='run'/><ping/>")
        for _ in range(50):  # all sent while the slow command still runs
            assert b'status="OK"' in await asyncio.wait_for(reader.readline(), 3)
        await gates(server).slow_started.wait()
        gates(server).release.set()
        assert b'done="yes"' in await asyncio.wait_for(reader.readline(), 3)
        assert b'status="OK"' in await asyncio.wait_for(reader.readline(), 3)
        writer.close()
    finally:
        await server.stop()


async def test_a_pipelined_batch_is_answered_in_order_then_quit_closes(db, sock_path):
    server = make_server(db, sock_path)
    await server.start()
    try:
        reader, writer = await connect(server)
        writer.write(b"".join(b"<ping n='%d'/>" % i for i in range(300)) + b"<nope/><quit/>")
        replies = (await asyncio.wait_for(reader.read(), 5)).splitlines()
        assert len(replies) == 301
        assert all(b'status="OK"' in reply for reply in replies[:300])
        assert b'error-code="UNKNOWN_COMMAND"' in replies[300]
        writer.close()
    finally:
        await server.stop()


async def test_a_connection_launching_alone_waits_in_turn_until_it_pipelines_or_goes(
        db, sock_path):
    server = make_server(db, sock_path)
    await server.start()
    try:
        launch = b"<instance action='launch' name='w'/>\n"
        lone_reader, lone = await connect(server)
        lone.write(launch)  # one launch, then its reply: it waits in turn
        await lone_reader.readline()
        assert server.turns.batch_rows() == TURN_ROWS
        burst_reader, burst = await connect(server)
        burst.write(launch * 3)
        for _ in range(3):
            await burst_reader.readline()
        assert server.turns.batch_rows() == TURN_ROWS  # the burst does not take its turn
        lone.write(launch * 3)  # it pipelines now
        for _ in range(3):
            await lone_reader.readline()
        assert server.turns.batch_rows() is None
        lone.write(launch)
        await lone_reader.readline()
        assert server.turns.batch_rows() == TURN_ROWS
        lone.write(b"<quit/>\n")
        assert await lone_reader.read() == b""
        await asyncio.sleep(0.01)
        assert server.turns.batch_rows() is None  # gone
        burst.write(b"<instance action='launch' name='w' mode='synchronous'/>\n")
        await burst_reader.readline()  # a synchronous launch waits for its one reply too
        assert server.turns.batch_rows() == TURN_ROWS
        burst.close()
    finally:
        await server.stop()


async def test_peer_gone_during_a_long_command_cancels_it(db, sock_path):
    server = make_server(db, sock_path, **{"dpd.interval": "1"})
    await server.start()
    try:
        reader, writer = await connect(server)
        writer.write(b"<slow action='run'/>\n")
        await gates(server).slow_started.wait()
        writer.close()
        await asyncio.wait_for(gates(server).cancelled.wait(), 5)
        await asyncio.sleep(0)
        assert server.connections == 0
    finally:
        await server.stop()


async def test_stop_lets_a_command_in_flight_answer_and_closes_idle_connections(db, sock_path):
    server = make_server(db, sock_path)
    await server.start()
    idle_reader, _ = await connect(server)
    busy_reader, busy_writer = await connect(server)
    busy_writer.write(b"<slow action='run'/>\n<ping/>\n")
    await gates(server).slow_started.wait()
    stopping = asyncio.ensure_future(server.stop())
    await asyncio.sleep(0.05)
    assert await idle_reader.read() == b"", "an idle connection closes at once"
    assert not os.path.exists(sock_path), "the socket file is removed"
    gates(server).release.set()
    assert await busy_reader.readline() == b'<response done="yes" node="n1" status="OK"/>\n'
    assert await busy_reader.read() == b"", "then it closes, pipelined requests unanswered"
    await stopping
    assert server.connections == 0


async def test_a_client_that_does_not_read_is_dropped_after_the_send_timeout(db, sock_path):
    server = make_server(db, sock_path, **{"network.snd.timeout": "1"})
    await server.start()
    try:
        _, writer = await connect(server)
        writer.write(b"<big action='get'/>\n")
        loop = asyncio.get_running_loop()
        start = loop.time()
        while server.connections and loop.time() - start < 5:
            await asyncio.sleep(0.05)
        assert server.connections == 0
        assert loop.time() - start >= 0.9
        writer.close()
    finally:
        await server.stop()


async def test_counters_follow_connections(db, sock_path):
    server = make_server(db, sock_path)
    await server.start()
    try:
        stats = server.ctx.stats
        reader, writer = await connect(server)
        assert (stats.accepted_api_connections, stats.current_api_connections) == (1, 1)
        writer.write(b"<ping/>\n<nosuch/>\n")
        await reader.readline()
        await reader.readline()
        assert (stats.api_queries, stats.api_exceptions) == (2, 1)
        writer.write(b"<quit/>\n")
        assert await reader.read() == b""
        await asyncio.sleep(0.01)
        assert (stats.accepted_api_connections, stats.current_api_connections) == (1, 0)
    finally:
        await server.stop()


async def test_unix_socket_replaces_a_stale_file_and_uses_the_default_mode(db, sock_path):
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(sock_path)
    stale.close()  # bound, never listening: what a crashed node leaves behind
    server = make_server(db, sock_path, **{"network.bind.ip": ""})
    await server.start()
    try:
        assert server.tcp_address is None, "an empty network.bind.ip disables TCP"
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o660
        reader, writer = await asyncio.open_unix_connection(sock_path)
        assert (await reader.readline()).startswith(b"<ready ")
        writer.close()
    finally:
        await server.stop()
    assert not os.path.exists(sock_path)


async def test_unix_socket_of_a_live_node_is_not_taken(db, sock_path):
    first = make_server(db, sock_path, **{"network.bind.ip": ""})
    await first.start()
    try:
        second = make_server(db, sock_path, **{"network.bind.ip": ""})
        with pytest.raises(ListenError, match="network.bind.path: another process is listening"):
            await second.start()
        assert os.path.exists(sock_path), "the live node keeps its socket"
    finally:
        await first.stop()


async def test_unix_socket_path_that_is_a_file_is_refused(db, sock_path):
    with open(sock_path, "w") as file:
        file.write("precious")
    with pytest.raises(ListenError, match="exists and is not a socket"):
        await make_server(db, sock_path).start()
    with open(sock_path) as file:
        assert file.read() == "precious"


async def test_bad_socket_mode_is_refused(db, sock_path):
    with pytest.raises(ListenError, match="network.bind.path.mode: '0999'"):
        await make_server(db, sock_path, **{"network.bind.path.mode": "0999"}).start()


async def test_port_in_use_names_the_key(db, sock_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = make_server(db, sock_path, **{"network.bind.port": str(port)})
        with pytest.raises(ListenError, match=f"network.bind.port: port {port} is already in use"):
            await server.start()
    assert not os.path.exists(sock_path), "a failed start leaves no socket file"


async def test_star_listens_on_every_address(db, sock_path):
    server = make_server(db, sock_path, **{"network.bind.ip": "*", "network.bind.path": ""})
    await server.start()
    try:
        assert server.tcp_address is not None and server.tcp_address[0] == "0.0.0.0"
        assert server.unix_path is None
    finally:
        await server.stop()


E3_CONTENT = (
    "PHdvcmtmbG93PjxwYXJhbWV0ZXJzPjxwYXJhbWV0ZXIgbmFtZT0iZHVyYXRpb24iLz48L3BhcmFtZXRlcnM+PHN1Ym"
    "pvYnM+PGpvYiBuYW1lPSJqMSI+PHRhc2tzPjx0YXNrIHR5cGU9IkJJTkFSWSIgcGF0aD0iL2Jpbi9zbGVlcCIgbmFt"
    "ZT0ic2xlZXAiIHF1ZXVlPSJkZWZhdWx0Ij48aW5wdXQgbmFtZT0iZCI+PHZhbHVlIHNlbGVjdD0iL3dvcmtmbG93L3"
    "BhcmFtZXRlcnMvcGFyYW1ldGVyW0BuYW1lPSdkdXJhdGlvbiddIi8+PC9pbnB1dD48L3Rhc2s+PC90YXNrcz48L2pv"
    "Yj48L3N1YmpvYnM+PC93b3JrZmxvdz4=")


@pytest.mark.parametrize("transport", ["tcp", "unix"])
async def test_e3_create_and_list_a_workflow(db, sock_path, transport):
    """protocol.md §9 E3 through the listeners, with the workflow command groups served."""
    server = make_server(db, sock_path, **{"cluster.node.name": "node1"})
    tables = all_tables() + ([] if workflow in API_MODULES else [workflow.routes])
    server.dispatcher = Dispatcher(tables)
    await server.start()
    try:
        if transport == "tcp":
            reader, writer = await connect(server)
        else:
            reader, writer = await asyncio.open_unix_connection(sock_path)
            await reader.readline()
        writer.write(f"<workflow action='create' name='sleeper' group='demo' comment='test wf'"
                     f" content='{E3_CONTENT}' />\n".encode())
        created = await reader.readline()
        # ids come from the shared test database's sequence: "1" on a new node
        workflow_id = created.split(b'workflow-id="')[1].split(b'"')[0]
        assert created == b'<response node="node1" status="OK" workflow-id="%s"/>\n' % workflow_id
        writer.write(b"<workflows action='list' />\n")
        assert await reader.readline() == (
            b'<response node="node1" status="OK"><workflow comment="test wf" group="demo" id="%s"'
            b' lastcommit="" name="sleeper"/></response>\n' % workflow_id)
        writer.close()
    finally:
        await server.stop()


async def test_e8_errors_of_the_definition_groups(db, sock_path):
    """protocol.md §9 E8, the lines about ``workflow`` and ``users`` (a USER-profile login)."""
    await create_user(db, "bob", "pw", "USER")
    server = make_server(db, sock_path, **{"cluster.node.name": "node1",
                                           "core.auth.enable": "yes"})
    extra = [module.routes for module in (workflow, user) if module not in API_MODULES]
    server.dispatcher = Dispatcher(all_tables() + extra)
    await server.start()
    try:
        reader, writer = await asyncio.open_unix_connection(sock_path)
        challenge = (await reader.readline()).split(b'challenge="')[1][:40].decode()
        writer.write(f"<auth response='{compute_response(challenge, password_key('pw'))}'"
                     " user='bob' />".encode())
        assert b'profile="USER"' in await reader.readline()
        writer.write(b"<workflow/>\n<users action='list' />\n")
        assert await reader.readline() == (
            b'<response error="Missing \'action\' attribute" error-code="MISSING_PARAMETER"'
            b' node="node1" status="KO"/>\n')
        assert await reader.readline() == (
            b'<response error="insufficient rights" error-code="INSUFFICIENT_RIGHTS"'
            b' node="node1" status="KO"/>\n')
        writer.close()
    finally:
        await server.stop()


async def test_a_store_error_during_the_login_names_no_database(db, sock_path, monkeypatch,
                                                                 caplog):
    async def store_away(db: Database, login: str) -> None:
        raise StorageError("(sqlite3.OperationalError) unable to open database file "
                           "/var/lib/evqueue/evqueue.db")

    monkeypatch.setattr("evqueue.api.login.load_credential", store_away)
    server = make_server(db, sock_path, **{"core.auth.enable": "yes"})
    await server.start()
    try:
        assert server.tcp_address is not None
        reader, writer = await asyncio.open_connection(*server.tcp_address)
        assert (await reader.readline()).startswith(b"<auth challenge=")
        writer.write(b"<auth user='admin' response='00'/>\n")
        reply = await asyncio.wait_for(reader.readline(), 3)
        assert reply == (b'<response error="Database error" error-code="SQL_ERROR" node="n1" '
                         b'status="KO"/>\n')
        assert await reader.read() == b""
        writer.close()
    finally:
        await server.stop()
    assert "evqueue.db" in caplog.text  # the details are for the node's log
