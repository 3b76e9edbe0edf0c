"""Notification plugins shipped with evqueue, and their plugin archives.

Each plugin is a standalone script of this package (standard library only, run in isolated
mode): :mod:`evqueue.plugins.mail` (e-mail over SMTP) and :mod:`evqueue.plugins.webhook`
(HTTP POST of JSON). :func:`plugin_zip` builds the archive ``notification_type register``
takes (``manifest.xml`` plus the script); ``python -m evqueue.plugins build email`` writes it.
"""

from evqueue.plugins.archive import PLUGINS, PluginInfo, plugin_source, plugin_zip

__all__ = ["PLUGINS", "PluginInfo", "plugin_source", "plugin_zip"]
