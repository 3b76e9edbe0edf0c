"""The notification command groups: plugins (``notification_type(s)``) and their instances
(``notification``, ``notifications``).

Rules (protocol.md §4.4, semantics.md §5.3):

- ``notification_type``, ``notification_types`` and ``notification`` are ADMIN only, refused
  before the action is read; ``notifications list`` is open to every user.
- ``notification_type register`` takes ``zip``, the base64 of a plugin archive holding
  ``manifest.xml``: ``<plugin><name/><description/><binary/>[<scope/>]…</plugin>``. The name
  (1–32 characters), description and binary file name are required, the scope is
  ``WORKFLOW`` (default) or ``ELOGS``, and the binary must be in the archive. Registering a
  name that exists replaces that plugin and keeps its id. Member sizes are bounded
  (``MAX_PLUGIN_FILE_SIZE``) so a small archive cannot expand without limit.
- ``get_conf``/``set_conf`` read and write the plugin configuration as base64 of JSON text
  (empty allowed). ``notification`` ``parameters`` is the base64 of the notification's JSON
  configuration: required, possibly empty. JSON is checked, since the engine parses both
  when it calls the plugin.
- Unknown ids: ``Unknown <NotificationType|Notification> ID : N`` (UNKNOWN_OBJECT) for
  ``get``/``unregister``; ``Unable to find notification type`` (UNKNOWN_NOTIFICATION_TYPE)
  for ``get_conf``/``set_conf``; ``Unknown notification type ID`` for a notification's
  ``type_id``; ``Unable to find notification`` (UNKNOWN_NOTIFICATION) for changes.
- Replies: ``get`` of a type gives ``<notification_type scope name description/>`` followed
  by the manifest's root; lists give ``<notification_type id name scope description
  binary/>`` (by name) and ``<notification id type_id name scope/>`` (by id, ``scope``
  filter, ``*`` = all). ``register`` and ``create`` add ``notification-type-id`` and
  ``notification-id``.
- Every change reports module ``notifications``; a change to subscriptions (a deleted type or
  notification, ``subscribe_all``) also reports ``workflows``. Syncing plugin binaries to
  disk belongs to the reload of ``notifications``.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.objects import (
    check_json,
    check_length,
    decode_base64,
    element,
    encode_base64,
    parse_stored,
    require_found,
    sorted_by,
    yes_no,
)
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.model.content import decode_content
from evqueue.model.document import parse_xml
from evqueue.protocol import (
    Command,
    InvalidParameter,
    Response,
    UnknownNotification,
    UnknownNotificationType,
)
from evqueue.storage import api_definitions
from evqueue.storage import notifications as store
from evqueue.storage.notifications import NotificationTypeRow

__all__ = ["MAX_PLUGIN_FILE_SIZE", "PluginManifest", "SCOPES", "read_plugin", "routes"]

routes = CommandTable()
routes.admin_only("notification_type", "notification_types", "notification")

#: Scopes a plugin may declare.
SCOPES = ("WORKFLOW", "ELOGS")
#: Largest manifest or binary accepted from a plugin archive (uncompressed).
MAX_PLUGIN_FILE_SIZE = 64 * 1024 * 1024

_TYPE_NAME_MAX, _NOTIFICATION_NAME_MAX = 32, 64
_TYPE_NOT_FOUND = "Unable to find notification type"
_NOT_FOUND = "Unable to find notification"
_INVALID_JSON = "Invalid json configuration"


@dataclass(frozen=True)
class PluginManifest:
    """What a plugin archive declares, with the binary it ships."""

    name: str
    description: str
    scope: str
    binary_name: str
    manifest: str
    binary: bytes


def _read_member(archive: zipfile.ZipFile, name: str, max_size: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise InvalidParameter(f"File not found : {name}") from None
    if info.file_size > max_size:
        raise InvalidParameter(f"File too large : {name}")
    try:
        with archive.open(info) as member:
            # Bounded read: the size in the header is the archive's claim, not a guarantee.
            data = member.read(max_size + 1)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise InvalidParameter(f"Unable to read {name} from Zip archive : {exc}") from None
    if len(data) > max_size:
        raise InvalidParameter(f"File too large : {name}")
    return data


def _manifest_text(root: etree._Element, tag: str) -> str:
    found = root.find(tag) if root.tag == "plugin" else None
    if found is None:
        raise InvalidParameter(f"Invalid manifest, could not find '{tag}' tag")
    return "".join(found.itertext())


def read_plugin(data: bytes, max_size: int = MAX_PLUGIN_FILE_SIZE) -> PluginManifest:
    """Read a plugin archive (evQueue's ``NotificationType::Register``).

    Args:
        data: the zip archive.
        max_size: the largest manifest or binary accepted, uncompressed.

    Raises:
        InvalidParameter: not a zip, a missing or too large member, or an incomplete manifest.
        InvalidXml: the manifest is not XML.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise InvalidParameter("Unable to open Zip archive") from None
    with archive:
        manifest = _read_member(archive, "manifest.xml", max_size)
        root = parse_xml(manifest)
        name = _manifest_text(root, "name")
        if name == "":
            raise InvalidParameter("Name cannot be empty")
        check_length(name, _TYPE_NAME_MAX, "Name is too long")
        description = _manifest_text(root, "description")
        binary_name = _manifest_text(root, "binary")
        scope_node = root.find("scope")
        scope = "".join(scope_node.itertext()) if scope_node is not None else "WORKFLOW"
        if scope not in SCOPES:
            raise InvalidParameter(f"Invalid scope : {scope}")
        binary = _read_member(archive, binary_name, max_size)
    return PluginManifest(name, description, scope, binary_name,
                          etree.tostring(root, encoding="unicode"), binary)


def _binary_name(row: NotificationTypeRow) -> str:
    binary = parse_stored(row.manifest, "plugin").find("binary")
    return "".join(binary.itertext()) if binary is not None else ""


async def _existing_type(ctx: ApiContext, type_id: int) -> NotificationTypeRow:
    row = await store.get_notification_type(ctx.db, type_id)
    if row is None:
        raise UnknownNotificationType(_TYPE_NOT_FOUND)
    return row


# --- plugins ------------------------------------------------------------------------------


@routes.command("notification_type", "get")
async def get_type(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<notification_type scope name description/>`` and the manifest."""
    type_id = cmd.get_int("id")
    row = require_found(await store.get_notification_type(ctx.db, type_id),
                        "NotificationType", type_id)
    node = element("notification_type", {"scope": row.scope, "name": row.name,
                                          "description": row.description})
    return Response.success(payload=[node, parse_stored(row.manifest, "plugin")])


@routes.command("notification_type", "register", modifies=True)
async def register(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Store a plugin from its archive; replies ``notification-type-id``."""
    plugin = read_plugin(decode_base64(cmd.get_str("zip"), "Invalid base64 zip"))
    type_id = await api_definitions.register_notification_type(
        ctx.db, scope=plugin.scope, name=plugin.name, description=plugin.description,
        manifest=plugin.manifest, binary=plugin.binary,
    )
    await ctx.changed("notifications")
    return Response.success({"notification-type-id": type_id})


@routes.command("notification_type", "unregister", modifies=True)
async def unregister(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a plugin with its notifications and their subscriptions."""
    type_id = cmd.get_int("id")
    require_found(await store.get_notification_type(ctx.db, type_id), "NotificationType", type_id)
    await store.delete_notification_type(ctx.db, type_id)
    await ctx.changed("notifications")
    await ctx.changed("workflows")
    return Response.success()


@routes.command("notification_type", "get_conf")
async def get_conf(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<conf content="base64"/>``, empty when never set."""
    type_id = cmd.get_int("id")
    await _existing_type(ctx, type_id)
    conf = await store.get_notification_type_conf(ctx.db, type_id) or b""
    return Response.success(payload=[element("conf", {"content": encode_base64(conf)})])


@routes.command("notification_type", "set_conf", modifies=True)
async def set_conf(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Store a plugin's configuration (base64 of JSON; empty clears it)."""
    type_id = cmd.get_int("id")
    content = decode_base64(cmd.get_str("content", ""))
    if content:
        try:
            check_json(content.decode("utf-8"), _INVALID_JSON)
        except UnicodeDecodeError:
            raise InvalidParameter(_INVALID_JSON) from None
    await _existing_type(ctx, type_id)
    await store.set_notification_type_conf(ctx.db, type_id, content)
    await ctx.changed("notifications")
    return Response.success()


@routes.command("notification_types", "list")
async def list_types(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Every plugin, by name."""
    rows = sorted_by(await store.list_notification_types(ctx.db), key=lambda row: row.name)
    return Response.success(payload=[
        element("notification_type", {"id": row.id, "name": row.name, "scope": row.scope,
                                       "description": row.description,
                                       "binary": _binary_name(row)})
        for row in rows
    ])


# --- notifications ------------------------------------------------------------------------


def _fields(cmd: Command) -> tuple[str, str, bool]:
    """Read and check ``name``, ``parameters`` (decoded) and ``subscribe_all``."""
    name = cmd.get_str("name")
    encoded = cmd.get_str("parameters")
    parameters = decode_content(encoded) if encoded else ""
    subscribe_all = cmd.get_bool("subscribe_all", False)
    if name == "":
        raise InvalidParameter("Name cannot be empty")
    check_length(name, _NOTIFICATION_NAME_MAX, "Name is too long")
    if parameters:
        check_json(parameters, _INVALID_JSON)
    return name, parameters, subscribe_all


async def _check_type(ctx: ApiContext, type_id: int) -> None:
    if await store.get_notification_type(ctx.db, type_id) is None:
        raise UnknownNotificationType("Unknown notification type ID")


@routes.command("notification", "get")
async def get(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<notification type_id name subscribe_all="yes|no" parameters="base64"/>``."""
    notification_id = cmd.get_int("id")
    row = require_found(await store.get_notification(ctx.db, notification_id),
                        "Notification", notification_id)
    node = element("notification", {
        "type_id": row.type_id, "name": row.name, "subscribe_all": yes_no(row.subscribe_all),
        "parameters": encode_base64(row.parameters),
    })
    return Response.success(payload=[node])


async def _report(ctx: ApiContext, subscriptions_changed: bool) -> None:
    await ctx.changed("notifications")
    if subscriptions_changed:
        await ctx.changed("workflows")


@routes.command("notification", "create", modifies=True)
async def create(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create a notification; replies ``notification-id``."""
    name, parameters, subscribe_all = _fields(cmd)
    type_id = cmd.get_int("type_id")
    await _check_type(ctx, type_id)
    notification_id = await store.create_notification(
        ctx.db, type_id, name, subscribe_all, parameters
    )
    await _report(ctx, subscribe_all)
    return Response.success({"notification-id": notification_id})


@routes.command("notification", "edit", modifies=True)
async def edit(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Replace a notification (``subscribe_all`` re-subscribes every workflow)."""
    name, parameters, subscribe_all = _fields(cmd)
    notification_id, type_id = cmd.get_int("id"), cmd.get_int("type_id")
    if await store.get_notification(ctx.db, notification_id) is None:
        raise UnknownNotification(_NOT_FOUND)
    await _check_type(ctx, type_id)
    if not await store.update_notification(
        ctx.db, notification_id, type_id, name, subscribe_all, parameters
    ):
        raise UnknownNotification(_NOT_FOUND)
    await _report(ctx, subscribe_all)
    return Response.success()


@routes.command("notification", "delete", modifies=True)
async def delete(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Delete a notification and its subscriptions."""
    notification_id = cmd.get_int("id")
    if not await store.delete_notification(ctx.db, notification_id):
        raise UnknownNotification(_NOT_FOUND)
    await _report(ctx, True)
    return Response.success()


@routes.command("notifications", "list")
async def list_notifications(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<notification id type_id name scope/>`` by id, of one scope or all (``*``)."""
    scope = cmd.get_str("scope", "*")
    rows = await store.list_notifications(ctx.db, None if scope == "*" else scope)
    return Response.success(payload=[
        element("notification", {"id": row.id, "type_id": row.type_id, "name": row.name,
                                  "scope": row.scope or ""})
        for row in rows
    ])
