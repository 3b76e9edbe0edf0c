"""The archives of the shipped plugins: ``manifest.xml`` and the script, zipped.

Rules: the manifest is evQueue's ``<plugin><name/><description/><binary/><scope/></plugin>``;
the binary is the plugin module's source, executable through its ``#!`` line. Archives are
built from the installed package, so they always match the running version.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from importlib import resources
from xml.sax.saxutils import escape

__all__ = ["PLUGINS", "PluginInfo", "manifest", "plugin_source", "plugin_zip"]


@dataclass(frozen=True)
class PluginInfo:
    """A shipped plugin: its registered name, module file, binary name and description."""

    name: str
    module: str
    binary: str
    description: str


#: The shipped plugins, by name.
PLUGINS: dict[str, PluginInfo] = {
    "email": PluginInfo("email", "mail.py", "evqueue-notify-email",
                        "Sends an e-mail over SMTP when a workflow instance ends"),
    "webhook": PluginInfo("webhook", "webhook.py", "evqueue-notify-webhook",
                          "POSTs the ended workflow instance as JSON to a URL"),
}


def _info(name: str) -> PluginInfo:
    try:
        return PLUGINS[name]
    except KeyError:
        raise KeyError(f"unknown plugin {name!r} (known: {', '.join(sorted(PLUGINS))})") from None


def plugin_source(name: str) -> bytes:
    """The executable script of plugin ``name``.

    Raises:
        KeyError: no such plugin.
    """
    return resources.files(__package__).joinpath(_info(name).module).read_bytes()


def manifest(info: PluginInfo) -> str:
    """The ``manifest.xml`` of a plugin."""
    return ("<plugin>"
            f"<name>{escape(info.name)}</name>"
            f"<description>{escape(info.description)}</description>"
            f"<binary>{escape(info.binary)}</binary>"
            "<scope>WORKFLOW</scope>"
            "</plugin>\n")


def plugin_zip(name: str) -> bytes:
    """The archive of plugin ``name``, ready for ``notification_type register``.

    Raises:
        KeyError: no such plugin.
    """
    info = _info(name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.xml", manifest(info))
        binary = zipfile.ZipInfo(info.binary)
        binary.external_attr = 0o100755 << 16  # an executable file when unzipped by hand
        binary.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(binary, plugin_source(name))
    return buffer.getvalue()
