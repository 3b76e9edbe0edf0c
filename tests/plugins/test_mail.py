"""The e-mail plugin: a real plugin process delivering to a local SMTP server."""

from __future__ import annotations

import json
from pathlib import Path

from evqueue.plugins import plugin_source
from evqueue.plugins.mail import build_message, placeholders
from evqueue.services.plugin_run import PluginCall, install_binary, plugin_input, run_plugin
from tests.plugins.smtp_sink import SmtpSink

INSTANCE = ('<workflow name="backup" id="42" status="TERMINATED" errors="1" '
            'start_time="2024-01-10 10:00:00" end_time="2024-01-10 10:00:09" node_name="n1">'
            '<subjobs/></workflow>')


async def _run(tmp_path: Path, plugin_conf: dict, notification_conf: dict, errors: int = 1):
    install_binary(str(tmp_path), 1, plugin_source("email"))
    stdin = plugin_input(json.dumps(plugin_conf), json.dumps(notification_conf), INSTANCE)
    call = PluginCall(str(tmp_path / "1"), ("42", str(errors), ""), stdin, str(tmp_path),
                      timeout=20, max_stderr=4096)
    return await run_plugin(call)


async def test_the_plugin_delivers_to_the_smtp_server(tmp_path) -> None:
    async with SmtpSink() as sink:
        result = await _run(
            tmp_path,
            {"host": "127.0.0.1", "port": sink.port, "from": "evq@example.org",
             "user": "robot", "password": "s3cret"},
            {"to": "ops@example.org, dba@example.org",
             "subject": "${name} #${instance_id} ended: ${result} (${errors} errors)"})
    assert result.ok, result.stderr
    [received] = sink.messages
    assert received.sender == "evq@example.org"
    assert received.recipients == ["ops@example.org", "dba@example.org"]
    assert received.login == ("robot", "s3cret")
    message = received.message
    assert message["Subject"] == "backup #42 ended: failure (1 errors)"
    assert message["From"] == "evq@example.org"
    assert message["To"] == "ops@example.org, dba@example.org"
    body = message.get_content()
    assert "Workflow backup (instance 42) ended at 2024-01-10 10:00:09 with 1 error(s)." in body
    assert "Node: n1" in body


async def test_a_plugin_without_recipient_fails_and_says_why(tmp_path) -> None:
    async with SmtpSink() as sink:
        result = await _run(tmp_path, {"host": "127.0.0.1", "port": sink.port}, {})
    assert result.returncode == 1
    assert "no recipient" in result.stderr
    assert sink.messages == []


async def test_an_unreachable_server_fails(tmp_path) -> None:
    async with SmtpSink() as sink:
        port = sink.port
    result = await _run(tmp_path, {"host": "127.0.0.1", "port": port}, {"to": "a@b.c"})
    assert result.returncode == 1
    assert result.stderr.startswith("email notification failed:")


def test_templates_see_the_instance_attributes_and_unknown_names_stay() -> None:
    values = placeholders(INSTANCE, "42", "0")
    assert values["result"] == "success" and values["node"] == "n1"
    message = build_message({}, {"to": ["x@y.z"], "subject": "${status} ${nope}",
                                 "body": "${start_time}"}, values)
    assert message["Subject"] == "TERMINATED ${nope}"
    assert message["From"] == "evqueue@localhost"
    assert message.get_content() == "2024-01-10 10:00:00\n"
