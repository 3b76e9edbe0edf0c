"""``evqueue-api``: talk to a node's XML API from the shell.

Rules:
- The command line only parses, builds one request, sends it with
  :class:`evqueue.client.Client` and prints the response: a readable table for people, the XML
  itself with ``--xml`` (for scripts).
- Where to connect and as whom: flags first, then the environment (``EVQUEUE_API_CONNECT``,
  ``EVQUEUE_API_USER``, ``EVQUEUE_API_PASSWORD``), then ``~/.evqueue.api.conf``, then
  ``/etc/evqueue.api.conf`` (keys ``api.connect``, ``api.user``, ``api.password``, the engine
  configuration's file syntax), then ``tcp://localhost:5000`` without a user.
- Raw XML is given as an argument (``evqueue-api '<ping/>'`` or ``evqueue-api raw '<ping/>'``)
  or on standard input (``evqueue-api raw < request.xml``).
- Exit codes: 0 when the node answers OK, 1 when it answers KO (the error and its code on
  stderr) or cannot be reached, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from lxml import etree

from evqueue.client import Client
from evqueue.config.errors import ConfigError
from evqueue.config.reader import parse_text
from evqueue.protocol import ApiError, Command, InvalidConnectionString, parse_cxx_int

__all__ = ["CONFIG_FILES", "DEFAULT_CONNECT", "build_parser", "main", "render"]

DEFAULT_CONNECT = "tcp://localhost:5000"
#: Configuration files, the later overriding the earlier ("~" is the user's home).
CONFIG_FILES = ("/etc/evqueue.api.conf", "~/.evqueue.api.conf")
_CONFIG_KEYS = {"api.connect": "connect", "api.user": "user", "api.password": "password"}
_ENVIRONMENT = {"EVQUEUE_API_CONNECT": "connect", "EVQUEUE_API_USER": "user",
                "EVQUEUE_API_PASSWORD": "password"}
_GLOBAL_WITH_VALUE = {"--connect", "--user", "--password", "--timeout"}

EPILOG = """examples:
  evqueue-api ping
  evqueue-api --connect unix:///run/evqueue/evqueue.socket status configuration
  evqueue-api '<workflows action="list"/>'
  evqueue-api --xml raw < request.xml
  evqueue-api workflow create --file sleeper.xml --name sleeper --group demo
  evqueue-api instance launch sleeper -p duration=2 --sync
  evqueue-api queue create batch --concurrency 4 --scheduler fifo

settings (the first found wins: flags, environment, ~/.evqueue.api.conf, /etc/evqueue.api.conf):
  EVQUEUE_API_CONNECT   where to connect, as --connect (default tcp://localhost:5000)
  EVQUEUE_API_USER      the user, as --user
  EVQUEUE_API_PASSWORD  the user's password, as --password (kept out of the process list)
  ~/.evqueue.api.conf and /etc/evqueue.api.conf hold "api.connect = ...", "api.user = ..." and
  "api.password = ..." lines (the engine configuration's syntax)
  export EVQUEUE_API_USER=admin EVQUEUE_API_PASSWORD=admin; evqueue-api ping
"""


class UsageError(Exception):
    """Bad arguments or settings (exit code 2)."""


# --- settings ---------------------------------------------------------------------------------


def read_settings(files: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Connection settings from the configuration files and the environment (later wins).

    Raises:
        UsageError: a file has a syntax error or an unknown key.
    """
    settings: dict[str, str] = {}
    for name in files:
        path = Path(os.path.expanduser(name))
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise UsageError(f"{path}: {exc.strerror}") from None
        try:
            for entry in parse_text(text, str(path)):
                if entry.key not in _CONFIG_KEYS:
                    raise ConfigError(f"unknown key '{entry.key}' (expected one of "
                                      f"{', '.join(_CONFIG_KEYS)})", filename=str(path),
                                      line=entry.line)
                settings[_CONFIG_KEYS[entry.key]] = entry.value
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
    for variable, name in _ENVIRONMENT.items():
        if variable in environ:
            settings[name] = environ[variable]
    return settings


# --- requests ---------------------------------------------------------------------------------


def _id_or_name(value: str) -> dict[str, str]:
    return {"id": value} if value.isdigit() else {"name": value}


def _parameters(pairs: Sequence[str]) -> list[tuple[str, str]]:
    result = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"parameter '{pair}' is not NAME=VALUE")
        result.append((name, value))
    return result


def _raw(args: argparse.Namespace, stdin: TextIO | None) -> str | Command:
    if args.xml_text not in (None, "-"):
        text = args.xml_text
    elif stdin is None:  # started without standard input
        raise UsageError("no XML to send (give it as an argument or on standard input)")
    else:
        text = stdin.read()
    if not text.strip():
        raise UsageError("no XML to send (give it as an argument or on standard input)")
    return text


def _workflow(args: argparse.Namespace, stdin: TextIO) -> str | Command:
    if args.action == "list":
        return Command.build("workflows", {"action": "list"})
    if args.action == "create":
        try:
            content = Path(args.file).read_bytes()
        except OSError as exc:
            raise UsageError(f"{args.file}: {exc.strerror}") from None
        attrs = {"action": "create", "name": args.name,
                 "content": base64.b64encode(content).decode("ascii")}
        attrs.update({k: v for k in ("group", "comment") if (v := getattr(args, k)) is not None})
        return Command.build("workflow", attrs)
    return Command.build("workflow", {"action": args.action, **_id_or_name(args.workflow)})


def _queue(args: argparse.Namespace, stdin: TextIO) -> str | Command:
    if args.action == "list":
        return Command.build("queuepool", {"action": "list"})
    if args.action == "create":
        return Command.build("queue", {
            "action": "create", "name": args.name, "concurrency": args.concurrency,
            "scheduler": args.scheduler, "dynamic": "yes" if args.dynamic else "no"})
    if parse_cxx_int(args.queue) is None:
        raise UsageError("give the id of the queue (see 'evqueue-api queue list')")
    return Command.build("queue", {"action": "delete", "id": args.queue})


def _instance(args: argparse.Namespace, stdin: TextIO) -> str | Command:
    if args.action == "launch":
        attrs = {"action": "launch", "name": args.workflow}
        if args.sync:
            attrs["mode"] = "synchronous"
        attrs.update({k: v for k in ("comment", "host") if (v := getattr(args, k)) is not None})
        if args.remote_user is not None:
            attrs["user"] = args.remote_user
        return Command.build("instance", attrs, _parameters(args.parameter))
    if args.action == "query":
        return Command.build("instance", {"action": "query", "id": args.id})
    return Command.build("instances", {"action": "list", "limit": args.limit})


def _status(args: argparse.Namespace, stdin: TextIO) -> str | Command:
    return Command.build("status", {"action": "query", "type": args.type})


def _ping(args: argparse.Namespace, stdin: TextIO) -> str | Command:
    return Command.build("ping")


# --- output -----------------------------------------------------------------------------------


#: Elements that only wrap the rows of a reply.
WRAPPERS = ("configuration", "statistics", "status")


def _table(rows: Sequence[etree._Element]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [name for name in row.attrib if name not in columns]
    if not columns:
        return [row.text or row.tag for row in rows]
    cells = [[str(row.get(name, "")) for name in columns] for row in rows]
    widths = [max(len(name), *(len(line[i]) for line in cells)) for i, name in enumerate(columns)]
    lines = ["  ".join(n.upper().ljust(w) for n, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    return [line.rstrip() for line in lines]


def render(response: etree._Element, *, tree: bool = False) -> str:
    """A readable rendering of a ``<response>`` for people.

    Args:
        response: the response element.
        tree: print the payload as indented XML (definitions, instance trees).
    """
    lines = [f"{name}: {value}" for name, value in response.attrib.items()
             if name not in ("node", "status")]
    children = list(response)
    if tree:
        for child in children:
            etree.indent(child)
            lines.append(etree.tostring(child, encoding="unicode").rstrip())
        return "\n".join(lines)
    # A single wrapper (<configuration>, <statistics>) holds the rows, or is the row itself.
    if len(children) == 1 and children[0].tag in WRAPPERS and len(children[0]):
        children = list(children[0])
    elif len(children) == 1:
        lines += [f"{name}: {value}" for name, value in children[0].attrib.items()]
        children = []
    if children:
        lines += _table(children)
    if response.text and response.text.strip():
        lines.append(response.text.strip())
    return "\n".join(lines) if lines else "OK"


# --- command line -----------------------------------------------------------------------------


def _add_subcommands(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    ping = commands.add_parser("ping", help="check the node answers (version, uptime)")
    ping.set_defaults(build=_ping)
    raw = commands.add_parser("raw", help="send raw XML (argument, or standard input)")
    raw.add_argument("xml_text", nargs="?", metavar="XML", help="the request; '-' or none: stdin")
    raw.set_defaults(build=_raw)
    status = commands.add_parser("status", help="node status")
    status.add_argument("type", choices=["configuration", "workflows", "scheduler"],
                        help="what to show")
    status.set_defaults(build=_status)

    workflow = commands.add_parser("workflow", help="workflow definitions").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    workflow.add_parser("list", help="list the workflows")
    for action in ("get", "delete"):
        sub = workflow.add_parser(action, help=f"{action} a workflow")
        sub.add_argument("workflow", metavar="ID|NAME", help="the workflow's id or name")
    create = workflow.add_parser("create", help="create a workflow from an XML file")
    create.add_argument("--file", required=True, help="the workflow definition (XML)")
    create.add_argument("--name", required=True, help="the workflow's name")
    create.add_argument("--group", help="group shown in the web UI")
    create.add_argument("--comment", help="a free comment")

    queue = commands.add_parser("queue", help="queues").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    queue.add_parser("list", help="list the queues")
    qcreate = queue.add_parser("create", help="create a queue")
    qcreate.add_argument("name", help="the queue's name")
    qcreate.add_argument("--concurrency", type=int, default=1, help="tasks run at once (1)")
    qcreate.add_argument("--scheduler", choices=["default", "fifo", "prio"], default="default",
                         help="queue scheduler (default: the node's queuepool.scheduler)")
    qcreate.add_argument("--dynamic", action="store_true", help="a dynamic queue")
    qdelete = queue.add_parser("delete", help="delete a queue")
    qdelete.add_argument("queue", metavar="ID", help="the queue's id")

    instance = commands.add_parser("instance", help="workflow instances").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    launch = instance.add_parser("launch", help="launch a workflow")
    launch.add_argument("workflow", metavar="NAME", help="the workflow's name")
    launch.add_argument("-p", "--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a workflow parameter (repeat for several)")
    launch.add_argument("--sync", action="store_true", help="wait until the instance ends")
    launch.add_argument("--comment", help="a comment stored with the instance")
    launch.add_argument("--host", help="run the tasks on this host (over ssh)")
    launch.add_argument("--remote-user", help="run the tasks as this user on --host")
    query = instance.add_parser("query", help="show an instance")
    query.add_argument("id", type=int, help="the instance id")
    history = instance.add_parser("list", help="list the latest instances")
    history.add_argument("--limit", type=int, default=30, help="how many (30)")
    for sub, build in ((workflow, _workflow), (queue, _queue), (instance, _instance)):
        for choice in sub.choices.values():
            choice.set_defaults(build=build)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``evqueue-api``."""
    parser = argparse.ArgumentParser(
        prog="evqueue-api", description="Send commands to an evQueue node's XML API.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    parser.add_argument("--connect", metavar="CNX",
                        help=f"tcp://HOST[:PORT] or unix://PATH (or EVQUEUE_API_CONNECT; "
                        f"default {DEFAULT_CONNECT})")
    parser.add_argument("--user", help="user name, when the node requires authentication "
                        "(or EVQUEUE_API_USER)")
    parser.add_argument("--password", help="the user's password (or EVQUEUE_API_PASSWORD)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for the node (default 30)")
    parser.add_argument("--xml", action="store_true",
                        help="print the response XML as received (for scripts)")
    _add_subcommands(parser)
    return parser


def _with_raw(argv: list[str]) -> list[str]:
    """Accept ``evqueue-api [options] '<xml/>'`` as ``evqueue-api [options] raw '<xml/>'``."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg in _GLOBAL_WITH_VALUE:
            index += 2
        elif arg.startswith("-"):
            index += 1
        else:
            return argv[:index] + ["raw"] + argv[index:] if arg.lstrip().startswith("<") else argv
    return argv


def _execute(args: argparse.Namespace, settings: Mapping[str, str], stdin: TextIO,
             stdout: TextIO) -> None:
    request = args.build(args, stdin)
    connect = args.connect or settings.get("connect") or DEFAULT_CONNECT
    user = args.user if args.user is not None else settings.get("user")
    password = args.password if args.password is not None else settings.get("password")
    try:
        client = Client(connect, user or None, password if user else None, timeout=args.timeout)
    except InvalidConnectionString as exc:
        raise UsageError(f"--connect: {exc.message}") from None
    with client:
        response = client.exec(request)
    if args.xml:
        stdout.write(etree.tostring(response, encoding="unicode") + "\n")
    else:
        tree = args.command == "instance" and args.action == "query" or (
            args.command == "workflow" and args.action == "get")
        stdout.write(render(response, tree=tree) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evqueue-api``; returns the exit code."""
    arguments = _with_raw(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
        settings = read_settings(CONFIG_FILES, os.environ)
        _execute(args, settings, sys.stdin, sys.stdout)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except UsageError as exc:
        print(f"evqueue-api: {exc}", file=sys.stderr)
        return 2
    except ApiError as exc:
        code = f" ({exc.code})" if exc.code else ""
        print(f"evqueue-api: {exc.message}{code}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"evqueue-api: cannot talk to the node: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
