#!/usr/bin/env -S python3 -I
"""evqueue notification plugin: POST the end of a workflow instance to a URL as JSON.

Called as ``<plugin> <instance_id> <errors> <unix_socket_path>`` with evQueue's JSON on stdin:
``{"pluginconf": {…}, "notificationconf": {…}, "instance": "<workflow …>…</workflow>"}``.
Standard library only (it runs as a standalone script, in isolated mode).

Plugin configuration (``pluginconf``): ``headers`` (sent with every call), ``timeout``
(seconds, 30). Notification parameters (``notificationconf``): ``url`` (required, http or
https), ``headers`` (added to the plugin's), ``include_xml`` (default true).

The body is ``{"instance_id": N, "errors": N, "workflow": name, "status", "start_time",
"end_time", "host", "user", "node", "instance": "<instance XML>"}`` (missing attributes are
empty strings; ``instance`` is left out when ``include_xml`` is false).

Exit status: 0 for a 2xx answer, 1 otherwise (the reason on stderr).
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ElementTree

__all__ = ["build_request", "main", "payload"]

_ATTRIBUTES = ("status", "start_time", "end_time", "host", "user")


def payload(instance_xml: str, instance_id: str, errors: str, include_xml: bool = True) -> dict:
    """The JSON body describing the ended instance."""
    try:
        attributes = dict(ElementTree.fromstring(instance_xml).attrib)
    except ElementTree.ParseError:
        attributes = {}
    body: dict = {
        "instance_id": int(instance_id) if instance_id.isdigit() else instance_id,
        "errors": int(errors) if errors.isdigit() else errors,
        "workflow": attributes.get("name", ""),
    }
    body.update({name: attributes.get(name, "") for name in _ATTRIBUTES})
    body["node"] = attributes.get("node_name", attributes.get("node", ""))
    if include_xml:
        body["instance"] = instance_xml
    return body


def build_request(plugin_conf: dict, notification_conf: dict, body: dict) -> urllib.request.Request:
    """The POST request to send.

    Raises:
        ValueError: no URL, or not http(s).
    """
    url = str(notification_conf.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"invalid url {url!r}: set an http(s) 'url' in the notification")
    headers = {"Content-Type": "application/json", "User-Agent": "evqueue-webhook"}
    headers.update({str(k): str(v) for k, v in (plugin_conf.get("headers") or {}).items()})
    headers.update({str(k): str(v) for k, v in (notification_conf.get("headers") or {}).items()})
    return urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                  method="POST")


def main(argv: list[str] | None = None, stdin: object = None) -> int:
    """Read the arguments and stdin, POST the JSON; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    instance_id = args[0] if args else ""
    errors = args[1] if len(args) > 1 else "0"
    try:
        document = json.load(stdin or sys.stdin)
        plugin_conf = document.get("pluginconf") or {}
        notification_conf = document.get("notificationconf") or {}
        include_xml = notification_conf.get("include_xml", True) not in (False, "no", "0")
        body = payload(document.get("instance") or "", instance_id, errors, include_xml)
        request = build_request(plugin_conf, notification_conf, body)
        timeout = float(plugin_conf.get("timeout") or 30)
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        print(f"webhook notification failed: HTTP {exc.code} {exc.reason}", file=sys.stderr)
        return 1
    except (OSError, ValueError, AttributeError) as exc:
        print(f"webhook notification failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
