"""Plugin archives: they register like any evQueue plugin and run once installed."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from evqueue.api.notification import read_plugin
from evqueue.engine import EndedInstance
from evqueue.plugins import PLUGINS, plugin_source, plugin_zip
from evqueue.services.notifications import Notifications, NotificationSettings
from evqueue.storage.notifications import create_notification, create_notification_type
from evqueue.storage.workflows import create_workflow
from tests.plugins.http_sink import HttpSink


@pytest.mark.parametrize("name", sorted(PLUGINS))
def test_an_archive_holds_a_manifest_and_the_executable_script(name) -> None:
    data = plugin_zip(name)
    plugin = read_plugin(data)
    assert (plugin.name, plugin.scope) == (name, "WORKFLOW")
    assert plugin.binary == plugin_source(name)
    assert plugin.binary.startswith(b"#!/usr/bin/env -S python3 -I\n")
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(plugin.binary_name)
    assert info.external_attr >> 16 == 0o100755


def test_an_unknown_plugin_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown plugin 'sms'"):
        plugin_zip("sms")


async def test_a_registered_webhook_archive_is_called_at_the_end_of_an_instance(
        db, tmp_path) -> None:
    plugin = read_plugin(plugin_zip("webhook"))
    type_id = await create_notification_type(db, plugin.name, plugin.description,
                                             plugin.manifest, plugin.binary, plugin.scope)
    workflow_id = await create_workflow(db, "wf", "<workflow/>")
    async with HttpSink() as sink:
        await create_notification(db, type_id, "hook", True, json.dumps({"url": sink.url}))
        notifications = Notifications(db, NotificationSettings(directory=str(tmp_path)))
        await notifications.sync()
        await notifications.reload()
        notifications.instance_ended(EndedInstance(
            11, workflow_id, None, 0, '<workflow name="wf" id="11" status="TERMINATED"/>'))
        await notifications.idle()
    [request] = sink.requests
    body = json.loads(request.body)
    assert (body["instance_id"], body["workflow"], body["status"]) == (11, "wf", "TERMINATED")
