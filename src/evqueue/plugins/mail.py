#!/usr/bin/env -S python3 -I
"""evqueue notification plugin: e-mail the end of a workflow instance over SMTP.

Called as ``<plugin> <instance_id> <errors> <unix_socket_path>`` with evQueue's JSON on stdin:
``{"pluginconf": {…}, "notificationconf": {…}, "instance": "<workflow …>…</workflow>"}``.
Standard library only (it runs as a standalone script, in isolated mode).

Plugin configuration (``pluginconf``): ``host`` (localhost), ``port`` (25), ``from``
(evqueue@localhost), ``starttls`` (false), ``ssl`` (false: SMTP over TLS from the start),
``user`` and ``password`` (login when ``user`` is set), ``timeout`` (seconds, 30).

Notification parameters (``notificationconf``): ``to`` (an address, a comma-separated list or
a JSON list), ``subject`` and ``body`` (templates). Templates use ``${name}`` placeholders:
every attribute of the instance's root (``id``, ``name``, ``status``, ``start_time``,
``end_time``, ``errors``, ``host``, ``user``…), plus ``instance_id``, ``node`` and
``result`` (``success`` or ``failure``). Unknown placeholders are left as written.

Exit status: 0 when the message was accepted, 1 otherwise (the reason on stderr).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import string
import sys
import xml.etree.ElementTree as ElementTree
from email.message import EmailMessage

__all__ = ["DEFAULT_BODY", "DEFAULT_SUBJECT", "build_message", "main", "placeholders", "send"]

DEFAULT_SUBJECT = "[evQueue] ${name} #${instance_id}: ${result}"
DEFAULT_BODY = ("Workflow ${name} (instance ${instance_id}) ended at ${end_time} "
                "with ${errors} error(s).\nStarted: ${start_time}\nNode: ${node}\n")


def placeholders(instance_xml: str, instance_id: str, errors: str) -> dict[str, str]:
    """The values templates may use, from the instance XML and the arguments."""
    values: dict[str, str] = {}
    try:
        root = ElementTree.fromstring(instance_xml)
        values.update(root.attrib)
    except ElementTree.ParseError:
        pass
    values["instance_id"] = instance_id
    values["errors"] = errors
    values.setdefault("node", values.get("node_name", ""))
    values["result"] = "success" if errors in ("", "0") else "failure"
    return values


def _recipients(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def build_message(plugin_conf: dict, notification_conf: dict,
                  values: dict[str, str]) -> EmailMessage:
    """The e-mail to send.

    Raises:
        ValueError: no recipient.
    """
    recipients = _recipients(notification_conf.get("to"))
    if not recipients:
        raise ValueError("no recipient: set 'to' in the notification parameters")
    subject = string.Template(str(notification_conf.get("subject") or DEFAULT_SUBJECT))
    body = string.Template(str(notification_conf.get("body") or DEFAULT_BODY))
    message = EmailMessage()
    message["From"] = str(plugin_conf.get("from") or "evqueue@localhost")
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject.safe_substitute(values)
    message.set_content(body.safe_substitute(values))
    return message


def _flag(value: object) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def send(plugin_conf: dict, message: EmailMessage) -> None:
    """Deliver ``message`` to the SMTP server of ``plugin_conf``."""
    host = str(plugin_conf.get("host") or "localhost")
    port = int(plugin_conf.get("port") or 25)
    timeout = float(plugin_conf.get("timeout") or 30)
    context = ssl.create_default_context()
    if _flag(plugin_conf.get("ssl")):
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if _flag(plugin_conf.get("starttls")):
            client.starttls(context=context)
        if plugin_conf.get("user"):
            client.login(str(plugin_conf["user"]), str(plugin_conf.get("password") or ""))
        client.send_message(message)


def main(argv: list[str] | None = None, stdin: object = None) -> int:
    """Read the arguments and stdin, send the e-mail; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    instance_id = args[0] if args else ""
    errors = args[1] if len(args) > 1 else "0"
    try:
        document = json.load(stdin or sys.stdin)
        plugin_conf = document.get("pluginconf") or {}
        notification_conf = document.get("notificationconf") or {}
        values = placeholders(document.get("instance") or "", instance_id, errors)
        send(plugin_conf, build_message(plugin_conf, notification_conf, values))
    except (OSError, ValueError, smtplib.SMTPException, AttributeError) as exc:
        print(f"email notification failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
