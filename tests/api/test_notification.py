"""Notification plugins and notifications through the API, on every backend."""

from __future__ import annotations

import io
import zipfile

import pytest

from evqueue.api import notification, workflow
from evqueue.api.notification import read_plugin
from evqueue.protocol import InvalidParameter, InvalidXml
from evqueue.storage import notifications as store
from tests.api.helpers import Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends

MANIFEST = (
    "<plugin><name>email</name><description>Send an e-mail</description>"
    "<binary>email.php</binary><configuration><notification><field name='to'/>"
    "</notification></configuration></plugin>"
)
BINARY = b"#!/bin/sh\nexit 0\n\x00\xff"


def plugin_zip(manifest: str | None = MANIFEST, files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if manifest is not None:
            archive.writestr("manifest.xml", manifest)
        for name, data in (files if files is not None else {"email.php": BINARY}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def api(db):
    return Api(db, [notification, workflow])


async def register(api: Api, data: bytes | None = None) -> int:
    root = await api.ok(f"<notification_type action='register' zip='{b64(data or plugin_zip())}'/>")
    return int(root.get("notification-type-id"))


async def test_plugin_lifecycle(api: Api, db) -> None:
    type_id = await register(api)
    assert api.changed == ["notifications"]
    assert await store.get_notification_type_binary(db, type_id) == BINARY
    root = await api.ok(f"<notification_type action='get' id='{type_id}'/>")
    head, manifest = root
    assert (head.tag, dict(head.attrib)) == ("notification_type", {
        "scope": "WORKFLOW", "name": "email", "description": "Send an e-mail"})
    assert manifest.tag == "plugin"
    assert manifest.find("configuration/notification/field").get("name") == "to"

    listed = await api.ok("<notification_types action='list'/>")
    assert [dict(n.attrib) for n in listed] == [{
        "id": str(type_id), "name": "email", "scope": "WORKFLOW",
        "description": "Send an e-mail", "binary": "email.php"}]

    # Registering the same name again replaces the plugin and keeps its id.
    new_manifest = MANIFEST.replace("Send an e-mail", "Mail v2").replace(
        "</name>", "</name><scope>ELOGS</scope>")
    assert await register(api, plugin_zip(new_manifest, {"email.php": b"v2"})) == type_id
    assert await store.get_notification_type_binary(db, type_id) == b"v2"
    assert (await store.get_notification_type(db, type_id)).scope == "ELOGS"

    assert (await api.ok(f"<notification_type action='get_conf' id='{type_id}'/>"))[0].attrib \
        == {"content": ""}
    conf = '{"smtp": "localhost"}'
    await api.ok(f"<notification_type action='set_conf' id='{type_id}' content='{b64(conf)}'/>")
    got = (await api.ok(f"<notification_type action='get_conf' id='{type_id}'/>"))[0]
    assert got.get("content") == b64(conf)
    await api.ok(f"<notification_type action='set_conf' id='{type_id}'/>")
    assert (await store.get_notification_type_conf(db, type_id)) in (b"", None)

    notification_id = await store.create_notification(db, type_id, "n", False, "")
    await api.ok(f"<notification_type action='unregister' id='{type_id}'/>")
    assert await store.get_notification_type(db, type_id) is None
    assert await store.get_notification(db, notification_id) is None
    assert api.changed == ["notifications"] * 5 + ["workflows"]


async def test_notification_lifecycle(api: Api, db) -> None:
    type_id = await register(api)
    content = b64(wf_xml())
    wid = int((await api.ok(f"<workflow action='create' name='w' content='{content}'/>"))
              .get("workflow-id"))
    api.changed.clear()
    parameters = '{"to": "ops@example.com"}'
    root = await api.ok(f"<notification action='create' type_id='{type_id}' name='ops' "
                        f"parameters='{b64(parameters)}' subscribe_all='yes'/>")
    notification_id = int(root.get("notification-id"))
    assert api.changed == ["notifications", "workflows"]
    assert await store.workflow_notifications(db, wid) == [notification_id]
    assert await api.raw(f"<notification action='get' id='{notification_id}'/>") == (
        f'<response node="node1" status="OK"><notification name="ops" '
        f'parameters="{b64(parameters)}" subscribe_all="yes" type_id="{type_id}"/></response>'
    ).encode()

    await api.ok(f"<notification action='edit' id='{notification_id}' type_id='{type_id}' "
                 "name='ops2' parameters=''/>")
    got = (await api.ok(f"<notification action='get' id='{notification_id}'/>"))[0]
    assert (got.get("name"), got.get("parameters"), got.get("subscribe_all")) == (
        "ops2", "", "no")

    listed = await api.ok("<notifications action='list'/>")
    assert [dict(n.attrib) for n in listed] == [{
        "id": str(notification_id), "type_id": str(type_id), "name": "ops2",
        "scope": "WORKFLOW"}]
    assert len(await api.ok("<notifications action='list' scope='WORKFLOW'/>")) == 1
    assert len(await api.ok("<notifications action='list' scope='ELOGS'/>")) == 0

    await api.ok(f"<notification action='delete' id='{notification_id}'/>")
    assert await store.workflow_notifications(db, wid) == []
    assert api.changed == ["notifications", "workflows", "notifications",
                           "notifications", "workflows"]


async def test_errors(api: Api) -> None:
    type_id = await register(api)
    n_id = int((await api.ok(f"<notification action='create' type_id='{type_id}' name='n' "
                             "parameters=''/>")).get("notification-id"))
    api.changed.clear()
    no_binary = plugin_zip(files={})
    no_name = plugin_zip(MANIFEST.replace("<name>email</name>", ""))
    empty_name = plugin_zip(MANIFEST.replace("<name>email</name>", "<name></name>"))
    bad_scope = plugin_zip(MANIFEST.replace("</name>", "</name><scope>NOPE</scope>"))
    cases = [
        ("<notification_type action='register'/>", "MISSING_PARAMETER",
         "Missing 'zip' attribute"),
        ("<notification_type action='register' zip='@@'/>", "INVALID_PARAMETER",
         "Invalid base64 zip"),
        (f"<notification_type action='register' zip='{b64(b'not a zip')}'/>",
         "INVALID_PARAMETER", "Unable to open Zip archive"),
        (f"<notification_type action='register' zip='{b64(plugin_zip(None))}'/>",
         "INVALID_PARAMETER", "File not found : manifest.xml"),
        (f"<notification_type action='register' zip='{b64(plugin_zip('<plugin'))}'/>",
         "INVALID_XML", None),
        (f"<notification_type action='register' zip='{b64(no_name)}'/>", "INVALID_PARAMETER",
         "Invalid manifest, could not find 'name' tag"),
        (f"<notification_type action='register' zip='{b64(empty_name)}'/>",
         "INVALID_PARAMETER", "Name cannot be empty"),
        (f"<notification_type action='register' zip='{b64(bad_scope)}'/>", "INVALID_PARAMETER",
         "Invalid scope : NOPE"),
        (f"<notification_type action='register' zip='{b64(no_binary)}'/>", "INVALID_PARAMETER",
         "File not found : email.php"),
        ("<notification_type action='get' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown NotificationType ID : 999999"),
        ("<notification_type action='unregister' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown NotificationType ID : 999999"),
        ("<notification_type action='get_conf' id='999999'/>", "UNKNOWN_NOTIFICATION_TYPE",
         "Unable to find notification type"),
        ("<notification_type action='set_conf' id='999999'/>", "UNKNOWN_NOTIFICATION_TYPE",
         "Unable to find notification type"),
        (f"<notification_type action='set_conf' id='{type_id}' content='{b64('{x')}'/>",
         "INVALID_PARAMETER", "Invalid json configuration"),
        (f"<notification_type action='set_conf' id='{type_id}' content='!'/>",
         "INVALID_PARAMETER", "Invalid base64 sequence"),
        (f"<notification action='create' type_id='{type_id}' name='x'/>", "MISSING_PARAMETER",
         "Missing 'parameters' attribute"),
        ("<notification action='create' name='x' parameters=''/>", "MISSING_PARAMETER",
         "Missing 'type_id' attribute"),
        (f"<notification action='create' type_id='{type_id}' name='' parameters=''/>",
         "INVALID_PARAMETER", "Name cannot be empty"),
        (f"<notification action='create' type_id='{type_id}' name='x' parameters='*'/>",
         "INVALID_PARAMETER", "Invalid base64 sequence"),
        (f"<notification action='create' type_id='{type_id}' name='x' "
         f"parameters='{b64('not json')}'/>", "INVALID_PARAMETER", "Invalid json configuration"),
        (f"<notification action='create' type_id='{type_id}' name='x' parameters='' "
         "subscribe_all='often'/>", "INVALID_BOOLEAN",
         "Attribute 'subscribe_all' has invalid boolean value"),
        ("<notification action='create' type_id='999999' name='x' parameters=''/>",
         "UNKNOWN_NOTIFICATION_TYPE", "Unknown notification type ID"),
        (f"<notification action='edit' id='{n_id}' type_id='999999' name='x' parameters=''/>",
         "UNKNOWN_NOTIFICATION_TYPE", "Unknown notification type ID"),
        (f"<notification action='edit' id='999999' type_id='{type_id}' name='x' parameters=''/>",
         "UNKNOWN_NOTIFICATION", "Unable to find notification"),
        ("<notification action='delete' id='999999'/>", "UNKNOWN_NOTIFICATION",
         "Unable to find notification"),
        ("<notification action='get' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown Notification ID : 999999"),
    ]
    for xml, code, message in cases:
        root = await api.ko(xml, code, message)
        assert root.get("error")
    assert api.changed == []


def test_plugin_members_are_bounded() -> None:
    with pytest.raises(InvalidParameter, match="File too large : manifest.xml"):
        read_plugin(plugin_zip(), max_size=10)
    big = plugin_zip(files={"email.php": b"x" * (len(MANIFEST) + 1)})
    with pytest.raises(InvalidParameter, match="File too large : email.php"):
        read_plugin(big, max_size=len(MANIFEST))
    assert read_plugin(plugin_zip(), max_size=len(MANIFEST)).binary == BINARY
    with pytest.raises(InvalidXml):
        read_plugin(plugin_zip("<plugin><name>x</name>"))


async def test_rights(api: Api) -> None:
    user = plain_user()
    for xml in ("<notification_type action='get' id='1'/>",
                f"<notification_type action='register' zip='{b64(plugin_zip())}'/>",
                "<notification_type action='unregister' id='1'/>",
                "<notification_type action='get_conf' id='1'/>",
                "<notification_type action='set_conf' id='1' content=''/>",
                "<notification_types action='list'/>",
                "<notification action='get' id='1'/>",
                "<notification action='create' type_id='1' name='x' parameters=''/>",
                "<notification action='edit' id='1' type_id='1' name='x' parameters=''/>",
                "<notification action='delete' id='1'/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
    type_id = await register(api)
    await api.ok(f"<notification action='create' type_id='{type_id}' name='n' parameters=''/>")
    listed = await api.ok("<notifications action='list'/>", as_user=user)
    assert [n.get("name") for n in listed] == ["n"]
