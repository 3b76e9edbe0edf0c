"""Websocket connections against a real server: login, the ``api`` and ``events`` protocols.

Captured exchanges of protocol.md §9 (E9, E10) are replayed byte for byte where the content
does not depend on the clock.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from lxml import etree

from evqueue.engine.events import EventBus, EventType
from evqueue.protocol import compute_response, password_key
from evqueue.server.turns import TURN_ROWS
from evqueue.storage.users import create_user
from tests.server.ws_support import (
    NODE,
    attrs,
    connect,
    engine_of,
    gate_of,
    login,
    receive_close,
    receive_text,
    serve,
    until,
)

STATUS_WORKFLOWS = '<status action="query" type="workflows"/>'
E3_CONTENT = (
    "PHdvcmtmbG93PjxwYXJhbWV0ZXJzPjxwYXJhbWV0ZXIgbmFtZT0iZHVyYXRpb24iLz48L3BhcmFtZXRlcnM+PHN1Ym"
    "pvYnM+PGpvYiBuYW1lPSJqMSI+PHRhc2tzPjx0YXNrIHR5cGU9IkJJTkFSWSIgcGF0aD0iL2Jpbi9zbGVlcCIgbmFt"
    "ZT0ic2xlZXAiIHF1ZXVlPSJkZWZhdWx0Ij48aW5wdXQgbmFtZT0iZCI+PHZhbHVlIHNlbGVjdD0iL3dvcmtmbG93L3"
    "BhcmFtZXRlcnMvcGFyYW1ldGVyW0BuYW1lPSdkdXJhdGlvbiddIi8+PC9pbnB1dD48L3Rhc2s+PC90YXNrcz48L2pv"
    "Yj48L3N1YmpvYnM+PC93b3JrZmxvdz4="
)
READY = re.compile(r'<ready node="node1" profile="(ADMIN|USER)" status="OK" '
                   r'time="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d" version="3\.3">'
                   r'(<modules/>|<modules>(<module name="\w+" version="3\.3"/>)+</modules>)'
                   r'</ready>')


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def subscribe(type: str, api_cmd: str, external_id: int, *, object_id: int | None = None,
              send_now: bool = False) -> str:
    extra = f' object_id="{object_id}"' if object_id is not None else ""
    now = "yes" if send_now else "no"
    return (f'<event action="subscribe" type="{type}" api_cmd="{b64(api_cmd)}" '
            f'send_now="{now}" external_id="{external_id}"{extra}/>')


def ack(event_id: str | int) -> str:
    return f'<event action="ack" event_id="{event_id}"/>'


# --- login -----------------------------------------------------------------------------------


async def test_e9_login_then_commands(db, client) -> None:
    async with serve(db) as server:
        ws = await client.ws_connect(f"http://127.0.0.1:{server.port}/", protocols=("api",))
        assert ws.protocol == "api"
        challenge = await receive_text(ws)
        assert re.fullmatch(r'<auth challenge="[0-9a-f]{40}" node="node1" status="OK"/>',
                            challenge)
        answer = compute_response(attrs(challenge)["challenge"], password_key("admin"))
        await ws.send_str(f"<auth response='{answer}' user='admin' />")
        ready = await receive_text(ws)
        assert READY.fullmatch(ready) and 'profile="ADMIN"' in ready
        await ws.send_str(f"<workflow action='create' name='sleeper' group='demo' "
                          f"comment='test wf' content='{E3_CONTENT}' />")
        assert await receive_text(ws) == '<response node="node1" status="OK" workflow-id="1"/>'
        await ws.send_str('<workflows action="list"/>')
        assert await receive_text(ws) == (
            '<response node="node1" status="OK"><workflow comment="test wf" group="demo" id="1" '
            'lastcommit="" name="sleeper"/></response>')
        await ws.close()


@pytest.mark.parametrize(("frame", "reason"), [
    ("<auth response='0000000000000000000000000000000000000000' user='admin' />",
     "Invalid authentication"),
    ("<auth response='0000000000000000000000000000000000000000' user='nobody' />",
     "Invalid authentication"),
    ("<auth response='hmac' user='admin' />", "Invalid authentication"),
    ("<ping/>", "Expected 'auth' node"),
    ("<auth response='x' />", "Missing 'user' attribute"),
    ("<auth response='x' user='admin'", "Invalid XML document"),
])
async def test_login_failure_closes_with_1011(db, client, frame: str, reason: str) -> None:
    async with serve(db) as server:
        ws = await connect(client, server, authenticate=False)
        await receive_text(ws)  # the challenge
        await ws.send_str(frame)
        assert await receive_close(ws) == (1011, reason)
        await until(lambda: server.ctx.stats.current_ws_connections == 0)


@pytest.mark.parametrize("settings", [
    {"ws.rcv.timeout": "1"},
    {"network.login.timeout": "1"},  # the shorter of the two applies
])
async def test_login_must_come_within_the_receive_timeout(db, client, settings) -> None:
    async with serve(db, settings) as server:
        ws = await connect(client, server, authenticate=False)
        await receive_text(ws)
        assert await receive_close(ws) == (1011, "Timed out waiting for authentication")


async def test_auth_disabled_greets_first_as_anonymous_admin(db, client) -> None:
    async with serve(db, {"core.auth.enable": "no"}) as server:
        ws = await connect(client, server, authenticate=False)
        ready = await receive_text(ws)
        assert READY.fullmatch(ready) and 'profile="ADMIN"' in ready
        await ws.send_str('<wstest action="whoami"/>')
        assert attrs(await receive_text(ws))["user"] == "anonymous"
        await ws.send_str("<auth response='x' user='admin' />")
        assert attrs(await receive_text(ws))["error-code"] == "UNKNOWN_COMMAND"


async def test_user_profile_in_greeting_and_commands(db, client) -> None:
    await create_user(db, "bob", "secret", "USER")
    async with serve(db) as server:
        ws = await connect(client, server, authenticate=False)
        assert 'profile="USER"' in await login(ws, "bob", "secret")
        await ws.send_str('<wstest action="whoami"/>')
        assert attrs(await receive_text(ws)) == {
            "node": NODE, "status": "OK", "user": "bob", "transport": "ws"}
        await ws.send_str('<control action="retry"/>')
        assert attrs(await receive_text(ws))["error-code"] == "INSUFFICIENT_RIGHTS"


# --- the api protocol ------------------------------------------------------------------------


async def test_malformed_xml_closes_with_1011(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server)
        await ws.send_str("<ping/>")
        await receive_text(ws)
        await ws.send_str("<ping/><ping/>")  # two documents in one frame
        assert await receive_close(ws) == (1011, "Invalid XML document")
        ws = await connect(client, server)
        await ws.send_str("hello world")
        assert await receive_close(ws) == (1011, "Invalid XML document")


async def test_responses_in_order_and_long_commands_block_only_their_socket(db, client) -> None:
    async with serve(db) as server:
        slow = await connect(client, server)
        other = await connect(client, server)
        await slow.send_str('<wstest action="slow"/>')
        await slow.send_str("<quit/>")  # ignored on a websocket: no response
        await slow.send_str("<ping/>")
        await other.send_str("<ping/>")
        assert attrs(await receive_text(other))["status"] == "OK"
        gate_of(server).set()
        assert attrs(await receive_text(slow))["slow"] == "done"
        pong = attrs(await receive_text(slow))
        assert pong["version"] == "3.3" and "uptime" in pong
        assert server.ctx.stats.ws_queries == 3


async def test_event_group_is_unknown_on_the_api_protocol(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server)
        await ws.send_str(subscribe("INSTANCE_STARTED", "<ping/>", 1))
        assert await receive_text(ws) == (
            '<response error="Unknown command or action" error-code="UNKNOWN_COMMAND" '
            'node="node1" status="KO"/>')


async def test_client_leaving_during_a_long_command_frees_the_connection(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server)
        await ws.send_str('<wstest action="slow"/>')
        await until(lambda: server.ctx.stats.ws_queries == 1)
        await ws.close()
        await until(lambda: server.ctx.stats.current_ws_connections == 0)
        assert server.ctx.stats.accepted_ws_connections == 1


# --- the events protocol ---------------------------------------------------------------------


def _workflow(instance_id: int) -> etree._Element:
    return etree.Element("workflow", evqid="1", id=str(instance_id), name="sleeper",
                         queued_tasks="1", running_tasks="1", start_time="2026-11-27 17:31:58",
                         status="EXECUTING")


async def test_e10_subscribe_push_ack(db, client) -> None:
    bus = EventBus()
    async with serve(db, bus=bus) as server:
        ws = await connect(client, server, "events")
        assert ws.protocol == "events"
        await ws.send_str(subscribe("INSTANCE_STARTED", STATUS_WORKFLOWS, 7, send_now=True))
        await ws.send_str(subscribe("INSTANCE_TERMINATED", STATUS_WORKFLOWS, 8, object_id=0))
        assert await receive_text(ws) == (
            '<response count="0" event-id="1" external-id="7" node="node1" status="OK"/>')
        await ws.send_str(ack(1))
        await until(lambda: server.ctx.stats.ws_subscriptions == 2)
        engine_of(server).running = [_workflow(7)]
        bus.emit(EventType.INSTANCE_STARTED, 7)
        assert await receive_text(ws) == (
            '<response count="1" event-id="2" external-id="7" node="node1" object-id="7" '
            'status="OK"><workflow evqid="1" id="7" name="sleeper" queued_tasks="1" '
            'running_tasks="1" start_time="2026-11-27 17:31:58" status="EXECUTING"/></response>')
        await ws.send_str(ack(2))
        engine_of(server).running = []
        bus.emit(EventType.INSTANCE_TERMINATED, 7)
        assert await receive_text(ws) == (
            '<response count="0" event-id="3" external-id="8" node="node1" object-id="7" '
            'status="OK"/>')
        await ws.send_str(ack(3))
        await ws.send_str(subscribe("NO_SUCH_EVENT", "<ping/>", 9))
        assert await receive_close(ws) == (1011, "Unknown event : NO_SUCH_EVENT")
        await until(lambda: server.ctx.stats.ws_subscriptions == 0)
        assert server.ctx.stats.ws_events == 3


async def test_e10_throttling_merges_object_ids_until_ack(db, client) -> None:
    bus = EventBus()
    async with serve(db, bus=bus) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("INSTANCE_STARTED", "<ping/>", 3))
        await until(lambda: server.ctx.stats.ws_subscriptions == 1)
        for instance_id in (8, 9, 10, 11):  # four launches before any ack
            bus.emit(EventType.INSTANCE_STARTED, instance_id)
        first = await receive_text(ws)
        assert re.fullmatch(r'<response event-id="1" external-id="3" git-support="disabled" '
                            r'node="node1" object-id="8" status="OK" uptime="\d+" '
                            r'version="3\.3"/>', first)
        await ws.send_str(ack(1))
        second = attrs(await receive_text(ws))
        assert (second["event-id"], second["object-id"]) == ("2", "9,10,11")


async def _collect(ws: aiohttp.ClientWebSocketResponse, expected: set[int], *,
                   acknowledge: bool) -> list[dict[str, str]]:
    """Read pushes until every expected object id was seen; checks none is seen twice."""
    seen: set[int] = set()
    pushes = []
    while seen != expected:
        push = attrs(await receive_text(ws))
        ids = {int(i) for i in push["object-id"].split(",")}
        assert not ids & seen, "an object id was pushed twice"
        seen |= ids
        pushes.append(push)
        if acknowledge:
            for _ in range(3):  # a slow client: the engine goes on meanwhile
                await asyncio.sleep(0)
            await ws.send_str(ack(push["event-id"]))
    assert seen <= expected
    return pushes


async def _publish(bus: EventBus, ids: range) -> None:
    for object_id in ids:
        bus.emit(EventType.TASK_PROGRESS, object_id)
        if object_id % 7 == 0:
            await asyncio.sleep(0)


async def test_a_thousand_fast_events_reach_a_slow_client_merged(db, client) -> None:
    bus = EventBus()
    async with serve(db, bus=bus) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("TASK_PROGRESS", "<ping/>", 1))
        await until(lambda: server.ctx.stats.ws_subscriptions == 1)
        publisher = asyncio.create_task(_publish(bus, range(1, 1001)))
        pushes = await _collect(ws, set(range(1, 1001)), acknowledge=True)
        await publisher
        assert 1 < len(pushes) < 1000
        assert [int(p["event-id"]) for p in pushes] == list(range(1, len(pushes) + 1))
        assert {p["external-id"] for p in pushes} == {"1"}
        await until(lambda: server.ctx.stats.ws_events == len(pushes))


async def test_without_throttling_pushes_need_no_ack(db, client) -> None:
    bus = EventBus()
    async with serve(db, {"ws.events.throttling": "no"}, bus=bus) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("TASK_PROGRESS", "<ping/>", 1))
        await until(lambda: server.ctx.stats.ws_subscriptions == 1)
        publisher = asyncio.create_task(_publish(bus, range(1, 301)))
        pushes = await _collect(ws, set(range(1, 301)), acknowledge=False)
        await publisher
        assert len(pushes) <= 300


async def test_error_push_carries_ids_and_does_not_stall(db, client) -> None:
    bus = EventBus()
    async with serve(db, bus=bus) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("INSTANCE_TERMINATED", '<wstest action="fail"/>', 4))
        await until(lambda: server.ctx.stats.ws_subscriptions == 1)
        bus.emit(EventType.INSTANCE_TERMINATED, 1)
        bus.emit(EventType.INSTANCE_TERMINATED, 2)
        assert await receive_text(ws) == (
            '<response error="Unknown workflow instance" error-code="UNKNOWN_INSTANCE" '
            'event-id="1" external-id="4" node="node1" object-id="1" status="KO"/>')
        await ws.send_str(ack(1))
        second = attrs(await receive_text(ws))
        assert (second["event-id"], second["object-id"], second["status"]) == ("2", "2", "KO")


async def test_api_cmd_that_is_not_xml_gives_an_error_push(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("TAG_CREATED", "not xml", 5, send_now=True))
        assert await receive_text(ws) == (
            '<response error="Invalid XML document" error-code="INVALID_XML" event-id="1" '
            'external-id="5" node="node1" status="KO"/>')


async def test_pushes_run_as_the_subscriber(db, client) -> None:
    await create_user(db, "bob", "secret", "USER")
    async with serve(db) as server:
        ws = await connect(client, server, "events", authenticate=False)
        await login(ws, "bob", "secret")
        await ws.send_str(subscribe("USER_MODIFIED", '<wstest action="whoami"/>', 1,
                                    object_id=3, send_now=True))
        push = attrs(await receive_text(ws))
        assert (push["user"], push["transport"], push["object-id"]) == ("bob", "ws", "3")


async def test_unsubscribe_and_unsubscribeall(db, client) -> None:
    bus = EventBus()
    async with serve(db, bus=bus) as server:
        stats = server.ctx.stats
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("WORKFLOW_CREATED", "<ping/>", 1))
        await ws.send_str(subscribe("WORKFLOW_CREATED", "<ping/>", 2))
        await ws.send_str(subscribe("TAG_CREATED", "<ping/>", 3))
        await until(lambda: stats.ws_subscriptions == 3)
        await ws.send_str('<event action="unsubscribe" type="WORKFLOW_CREATED" external_id="1"/>')
        await until(lambda: stats.ws_subscriptions == 2)
        bus.emit(EventType.WORKFLOW_CREATED, 5)
        assert attrs(await receive_text(ws))["external-id"] == "2"
        await ws.send_str('<event action="unsubscribeall"/>')
        await until(lambda: stats.ws_subscriptions == 0)
        await ws.send_str(subscribe("TAG_CREATED", "<ping/>", 4))
        await until(lambda: stats.ws_subscriptions == 1)
        bus.emit(EventType.TAG_CREATED, 0)
        push = attrs(await receive_text(ws))
        assert push["external-id"] == "4" and "object-id" not in push


@pytest.mark.parametrize(("frame", "reason"), [
    ("<ping/>", "Only event query group is supported by this protocol"),
    ("<event/>", "Missing 'action' attribute"),
    ('<event action="subscribe" type="TAG_CREATED" api_cmd="@@@"/>', "Invalid base64 sequence"),
    ('<event action="subscribe" api_cmd="PHBpbmcvPg=="/>', "Missing 'type' attribute"),
    ('<event action="subscribe" type="TAG_CREATED"/>', "Missing 'api_cmd' attribute"),
    ('<event action="ack"/>', "Missing 'event_id' attribute"),
    ("<event", "Invalid XML document"),
])
async def test_bad_event_messages_close_with_1011(db, client, frame: str, reason: str) -> None:
    async with serve(db) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(frame)
        assert await receive_close(ws) == (1011, reason)


async def test_unknown_event_actions_are_ignored(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server, "events")
        await ws.send_str('<event action="frobnicate"/>')
        await ws.send_str(ack(99))  # nothing to acknowledge: ignored too
        await ws.send_str(subscribe("TAG_CREATED", "<ping/>", 1, send_now=True))
        assert attrs(await receive_text(ws))["event-id"] == "1"


async def test_connection_end_drops_its_subscriptions(db, client) -> None:
    bus = EventBus()
    async with serve(db, bus=bus) as server:
        ws = await connect(client, server, "events")
        await ws.send_str(subscribe("TAG_CREATED", '<wstest action="slow"/>', 1))
        await until(lambda: server.ctx.stats.ws_subscriptions == 1)
        bus.emit(EventType.TAG_CREATED, 0)  # a push is computing when the client leaves
        await until(lambda: server.ctx.stats.ws_queries == 1)
        await ws.close()
        await until(lambda: server.ctx.stats.current_ws_connections == 0)
        assert server.ctx.stats.ws_subscriptions == 0
        bus.emit(EventType.TAG_CREATED, 0)  # nobody listens any more: nothing breaks


async def test_a_websocket_launching_alone_waits_in_turn_until_it_goes(db, client) -> None:
    async with serve(db, {"core.auth.enable": "no"}) as server:
        ws = await connect(client, server, authenticate=False)
        await receive_text(ws)
        assert server.turns.batch_rows() is None
        await ws.send_str("<instance action='launch' name='w'/>")
        await receive_text(ws)  # its one reply, whatever it says
        assert server.turns.batch_rows() == TURN_ROWS
        await ws.close()
        await until(lambda: server.turns.batch_rows() is None)
