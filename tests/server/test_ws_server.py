"""The websocket/HTTP listener: handshakes, plain HTTP routes, limits, TLS, shutdown."""

from __future__ import annotations

import dataclasses
import json
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from evqueue.api.context import ApiContext
from evqueue.config import Config
from evqueue.server.api_server import ListenError
from evqueue.server.health import FORKER_DOWN
from evqueue.server.metrics import EngineFigures, QueueFigures
from evqueue.server.ws_server import WsServer, default_static_dir
from tests.server.test_health import FakeProcesses
from tests.server.test_metrics import parse_exposition, value
from tests.server.ws_support import (
    NODE,
    attrs,
    base_url,
    connect,
    dispatcher,
    login,
    receive_close,
    receive_text,
    serve,
    until,
)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>evQueue</title>")
    (root / "css" / "app.css").write_text("body { margin: 0 }")
    (tmp_path / "secret.txt").write_text("not for you")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")  # leads out of the directory
    return root


# --- handshake -------------------------------------------------------------------------------


async def test_subprotocol_is_negotiated_and_echoed(db, client) -> None:
    async with serve(db) as server:
        ws = await client.ws_connect(base_url(server), protocols=("events", "api"))
        assert ws.protocol == "events"
        await login(ws)
        ws = await client.ws_connect(base_url(server), protocols=("foo", "api"))
        assert ws.protocol == "api"


async def test_websocket_works_on_any_path(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server, path="/some/path?x=1")
        await ws.send_str("<ping/>")
        assert attrs(await receive_text(ws))["status"] == "OK"


async def test_unknown_subprotocol_is_refused(db, client) -> None:
    async with serve(db) as server:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(base_url(server), protocols=("foo",))
        assert refused.value.status == 400


async def test_no_subprotocol_is_closed_with_a_message(db, client) -> None:
    async with serve(db) as server:
        ws = await client.ws_connect(base_url(server))
        assert ws.protocol is None
        code, reason = await receive_close(ws)
        assert code == 1002 and "'api' or 'events'" in reason


async def test_connections_max_is_enforced_cleanly(db, client) -> None:
    async with serve(db, {"ws.connections.max": "2"}) as server:
        first = await connect(client, server)
        second = await connect(client, server, "events")  # kept: a dropped one would close
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(base_url(server), protocols=("api",))
        assert refused.value.status == 503
        # The connections already open are untouched, and a slot frees when one closes.
        await first.send_str("<ping/>")
        assert attrs(await receive_text(first))["status"] == "OK"
        await first.close()
        await until(lambda: server.ctx.stats.current_ws_connections == 1)
        third = await connect(client, server)
        assert server.ctx.stats.accepted_ws_connections == 3
        await second.close()
        await third.close()


async def test_origin_check(db, client) -> None:
    async with serve(db, {"ws.origins": "http://good.example, https://other.example"}) as server:
        url = base_url(server)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect(url, protocols=("api",), origin="http://evil.example")
        assert refused.value.status == 403
        for origin in ("http://good.example", f"http://127.0.0.1:{server.port}", None):
            ws = await client.ws_connect(url, protocols=("api",), origin=origin)
            await login(ws)
            await ws.close()


async def test_keepalive_sends_ping_frames(db, client) -> None:
    async with serve(db, {"ws.keepalive": "1"}) as server:
        ws = await client.ws_connect(base_url(server), protocols=("events",), autoping=False)
        await login(ws)
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.PING
        await ws.pong(msg.data)


async def test_stop_closes_websockets_with_1001(db, client) -> None:
    async with serve(db) as server:
        api = await connect(client, server)
        events = await connect(client, server, "events")
        await server.stop()
        assert await receive_close(api) == (1001, "Server shutdown")
        assert await receive_close(events) == (1001, "Server shutdown")
        assert server.port is None
        assert server.ctx.stats.current_ws_connections == 0


async def test_tls(db, client, tmp_path: Path) -> None:
    crt, key = tmp_path / "ws.crt", tmp_path / "ws.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    context = ssl.create_default_context(cafile=str(crt))
    async with serve(db, {"ws.ssl.crt": str(crt), "ws.ssl.key": str(key)}) as server:
        assert server.url == f"wss://127.0.0.1:{server.port}/"
        ws = await client.ws_connect(f"wss://127.0.0.1:{server.port}/", protocols=("api",),
                                     ssl=context)
        await login(ws)
        await ws.send_str("<ping/>")
        assert attrs(await receive_text(ws))["node"] == NODE
        async with client.get(f"https://127.0.0.1:{server.port}/healthz", ssl=context) as resp:
            assert resp.status == 200


async def test_disabled_listener_and_bind_error(db) -> None:
    cfg = Config.from_mapping({"ws.bind.ip": ""})
    server = WsServer(ApiContext(cfg=cfg, db=db), dispatcher())
    await server.start()
    assert not server.enabled and server.port is None and server.url is None
    await server.stop()
    async with serve(db) as running:
        taken = Config.from_mapping({"ws.bind.ip": "127.0.0.1",
                                     "ws.bind.port": str(running.port)})
        with pytest.raises(ListenError, match=f"port {running.port} is already in use"):
            await WsServer(ApiContext(cfg=taken, db=db), dispatcher()).start()


# --- plain HTTP ------------------------------------------------------------------------------


async def test_index_and_static_files(db, client, static_dir: Path) -> None:
    async with serve(db, static_dir=static_dir) as server:
        url = base_url(server)
        for path in ("/", "/index.html", "/?loc=home"):
            async with client.get(url + path) as resp:
                assert resp.status == 200
                assert "<title>evQueue</title>" in await resp.text()
                assert resp.content_type == "text/html"
        async with client.get(url + "/static/css/app.css") as resp:
            assert resp.status == 200 and resp.content_type == "text/css"
            assert await resp.text() == "body { margin: 0 }"
        for path in ("/static/missing.js", "/static/link.txt", "/static/", "/static/css"):
            async with client.get(url + path) as resp:
                assert resp.status == 404, path


async def test_web_ui_not_installed_is_a_clear_404(db, client, tmp_path: Path) -> None:
    async with serve(db, static_dir=tmp_path / "nowhere") as server:
        for path in ("/", "/static/js/app.js"):
            async with client.get(base_url(server) + path) as resp:
                assert resp.status == 404
                assert "not installed" in await resp.text()


def test_default_static_dir_is_the_packaged_web_ui() -> None:
    static = default_static_dir()
    assert static is not None and (static / "index.html").is_file()


async def test_other_plain_requests_are_forbidden(db, client) -> None:
    async with serve(db) as server:
        url = base_url(server)
        async with client.get(url + "/some/path?x=1") as resp:
            assert (resp.status, await resp.text()) == (403, "Forbidden")
        async with client.post(url + "/metrics", data=b"x") as resp:
            assert resp.status == 403


async def test_healthz(db, client) -> None:
    async with serve(db) as server, client.get(base_url(server) + "/healthz") as resp:
        assert resp.status == 200
        body = json.loads(await resp.text())
        assert body["status"] == "ok" and body["node"] == NODE
        assert isinstance(body["uptime"], int) and body["uptime"] >= 0


async def test_healthz_of_a_degraded_node(db, client) -> None:
    async with serve(db) as server:
        processes = FakeProcesses(forker_running=False, forker_restarts=2)
        server.ctx.services = dataclasses.replace(server.ctx.services,
                                                  processes=processes)  # type: ignore[arg-type]
        async with client.get(base_url(server) + "/healthz") as resp:
            assert resp.status == 503
            body = json.loads(await resp.text())
        assert (body["status"], body["problems"]) == ("degraded", [FORKER_DOWN])
        async with client.get(base_url(server) + "/metrics") as resp:
            families = parse_exposition(await resp.text())
        assert value(families, "evqueue_degraded") == 1
        processes.forker_running = True
        async with client.get(base_url(server) + "/healthz") as resp:
            assert resp.status == 200
            assert json.loads(await resp.text())["status"] == "ok"


async def test_metrics_without_engine_figures(db, client) -> None:
    async with serve(db) as server:
        ws = await connect(client, server)
        await ws.send_str("<ping/>")
        await receive_text(ws)
        async with client.get(base_url(server) + "/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            families = parse_exposition(await resp.text())
        assert value(families, "evqueue_up") == 1
        assert value(families, "evqueue_ws_connections") == 1
        assert value(families, "evqueue_api_queries_total") == 1
        assert "evqueue_instances" not in families


@pytest.mark.parametrize("is_async", [False, True])
async def test_metrics_with_engine_figures(db, client, is_async: bool) -> None:
    figures = EngineFigures(instances={"EXECUTING": 2},
                            queues=(QueueFigures("default", running=1, queued=4),))

    def source() -> EngineFigures:
        return figures

    async def async_source() -> EngineFigures:
        return figures

    async with serve(db, metrics_source=async_source if is_async else source) as server:
        async with client.get(base_url(server) + "/metrics") as resp:
            families = parse_exposition(await resp.text())
    assert value(families, "evqueue_instances", status="EXECUTING") == 2
    assert value(families, "evqueue_queue_tasks_queued", queue="default") == 4


async def test_metrics_source_failure_still_serves_node_figures(db, client) -> None:
    def broken() -> EngineFigures:
        raise RuntimeError("engine busy")

    async with serve(db, metrics_source=broken) as server:
        async with client.get(base_url(server) + "/metrics") as resp:
            assert resp.status == 200
            families = parse_exposition(await resp.text())
    assert value(families, "evqueue_up") == 1
