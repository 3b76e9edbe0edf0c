"""Notifications on a real node: a plugin registered through the API is installed, called at
the end of each instance, and its failures are listed by ``logsnotifications``."""

from __future__ import annotations

import base64
import http.server
import json
import threading
from pathlib import Path

import pytest

from evqueue.client.sync import Client
from evqueue.plugins import plugin_zip
from tests.e2e.nodes import wait_for

WORKFLOW = base64.b64encode(
    b"<workflow><subjobs><job name='j'><tasks><task path='/bin/true' queue='default'/>"
    b"</tasks></job></subjobs></workflow>").decode()


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    arrived = threading.Event()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()
        self.arrived.set()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook():
    _Hook.received, _Hook.arrived = [], threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/evq", _Hook
    server.shutdown()
    server.server_close()


def _register(client: Client, zip_data: bytes) -> int:
    encoded = base64.b64encode(zip_data).decode()
    return int(client.exec(f"<notification_type action='register' zip='{encoded}'/>"
                           ).get("notification-type-id"))


def _notification(client: Client, type_id: int, name: str, parameters: dict) -> None:
    encoded = base64.b64encode(json.dumps(parameters).encode()).decode()
    client.exec(f"<notification action='create' type_id='{type_id}' name='{name}' "
                f"subscribe_all='yes' parameters='{encoded}'/>")


def test_a_registered_plugin_is_called_when_an_instance_ends(make_node, hook):
    url, received = hook
    node = make_node("node1").start()
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        type_id = _register(client, plugin_zip("webhook"))
        plugin = Path(node.directory) / str(type_id)
        assert plugin.read_bytes().startswith(b"#!")  # installed by the reload of the change
        _notification(client, type_id, "hook", {"url": url})
        client.exec(f"<workflow action='create' name='nightly' content='{WORKFLOW}'/>")
        launched = client.exec("<instance action='launch' name='nightly' mode='synchronous'/>")
        assert received.arrived.wait(20)
        [body] = received.received
        assert body["instance_id"] == int(launched.get("workflow-instance-id"))
        assert (body["workflow"], body["status"], body["errors"]) == ("nightly", "TERMINATED", 0)
        plugin.unlink()
        client.exec("<control action='syncnotifications'/>")
        assert plugin.exists()


def test_a_failing_plugin_is_listed_in_the_notification_log(make_node):
    node = make_node("node1").start()
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        type_id = _register(client, plugin_zip("webhook"))
        _notification(client, type_id, "broken", {"url": "not-a-url"})
        client.exec(f"<workflow action='create' name='nightly' content='{WORKFLOW}'/>")
        client.exec("<instance action='launch' name='nightly' mode='synchronous'/>")

        def logged() -> list:
            return list(client.exec("<logsnotifications action='list'/>"))

        assert wait_for(lambda: logged() != [], timeout=20)
        [line] = logged()
        assert line.get("node") == "node1"
        assert line.get("message").startswith("broken: exited with status 1\n"
                                               "webhook notification failed: invalid url")
