"""The webhook plugin: a real plugin process posting to a local HTTP endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from evqueue.plugins import plugin_source
from evqueue.plugins.webhook import payload
from evqueue.services.plugin_run import PluginCall, install_binary, plugin_input, run_plugin
from tests.plugins.http_sink import HttpSink

INSTANCE = ('<workflow name="backup" id="42" status="TERMINATED" errors="0" host="db1" '
            'start_time="2024-01-10 10:00:00" end_time="2024-01-10 10:00:09"><subjobs/>'
            '</workflow>')


async def _run(tmp_path: Path, notification_conf: dict, plugin_conf: dict | None = None):
    install_binary(str(tmp_path), 2, plugin_source("webhook"))
    stdin = plugin_input(json.dumps(plugin_conf or {}), json.dumps(notification_conf), INSTANCE)
    call = PluginCall(str(tmp_path / "2"), ("42", "0", "/run/evq.sock"), stdin, str(tmp_path),
                      timeout=20, max_stderr=4096)
    return await run_plugin(call)


async def test_the_plugin_posts_the_instance_as_json(tmp_path) -> None:
    async with HttpSink() as sink:
        result = await _run(tmp_path,
                            {"url": f"{sink.url}/hooks/evq", "headers": {"X-Token": "abc"}},
                            {"headers": {"X-Source": "evqueue"}})
    assert result.ok, result.stderr
    [request] = sink.requests
    assert request.method == "POST" and request.path == "/hooks/evq"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Token"] == "abc" and request.headers["X-Source"] == "evqueue"
    assert json.loads(request.body) == {
        "instance_id": 42, "errors": 0, "workflow": "backup", "status": "TERMINATED",
        "start_time": "2024-01-10 10:00:00", "end_time": "2024-01-10 10:00:09",
        "host": "db1", "user": "", "node": "", "instance": INSTANCE,
    }


async def test_the_xml_can_be_left_out(tmp_path) -> None:
    async with HttpSink() as sink:
        result = await _run(tmp_path, {"url": sink.url, "include_xml": False})
    assert result.ok, result.stderr
    assert "instance" not in json.loads(sink.requests[0].body)


async def test_an_error_answer_fails_the_run(tmp_path) -> None:
    async with HttpSink(status=500) as sink:
        result = await _run(tmp_path, {"url": sink.url})
    assert result.returncode == 1
    assert "HTTP 500" in result.stderr


async def test_a_missing_url_fails_the_run(tmp_path) -> None:
    result = await _run(tmp_path, {})
    assert result.returncode == 1 and "invalid url" in result.stderr


def test_the_payload_of_an_unparsable_instance_still_has_the_arguments() -> None:
    assert payload("not xml", "7", "2", include_xml=False) == {
        "instance_id": 7, "errors": 2, "workflow": "", "status": "", "start_time": "",
        "end_time": "", "host": "", "user": "", "node": ""}
