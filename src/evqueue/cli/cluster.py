"""``evqueue cluster start|stop|status``: the development cluster of one machine.

Rules:
- One node per developer directory of ``--data`` (default ``/data``), all started from one
  configuration file (``--config``, default ``/etc/evqueue.multiuser.conf``) with the variables
  ``login``, ``port`` (``--port`` + the developer's rank) and ``cluster``, as the shell scripts
  of ``examples/multiuser`` do (:mod:`evqueue.cluster.team`).
- ``start`` starts the nodes that do not run (running ones are left alone); ``stop`` stops the
  running ones; ``status`` prints one line per node. Exit code 0 when every node did what was
  asked (``status``: every node is up), 1 otherwise, 2 for a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]

EPILOG = """examples:
  evqueue cluster start --data /data --config /etc/evqueue.multiuser.conf
  evqueue cluster status --data /data
  evqueue cluster stop --data /data
"""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``evqueue cluster``."""
    from evqueue.cluster.team import DEFAULT_CONFIG, DEFAULT_DATA, DEFAULT_PORT

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data", metavar="DIR", default=DEFAULT_DATA,
                        help=f"one sub-directory per developer (default {DEFAULT_DATA})")
    common.add_argument("--config", metavar="FILE", default=DEFAULT_CONFIG,
                        help=f"configuration of every node (default {DEFAULT_CONFIG})")
    common.add_argument("--port", metavar="BASE", type=int, default=DEFAULT_PORT,
                        help=f"websocket port of the first developer (default {DEFAULT_PORT})")
    parser = argparse.ArgumentParser(
        prog="evqueue cluster", description="Start, stop or list the nodes of a development "
        "cluster: one node per developer directory, sharing one store.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("start", parents=[common], help="start the nodes that do not run")
    actions.add_parser("stop", parents=[common], help="stop the running nodes")
    actions.add_parser("status", parents=[common], help="one line per node: name, pid, "
                       "socket, websocket port, IPC key, up/down")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evqueue cluster`` with ``argv`` (what follows ``cluster``); returns the exit code."""
    args = build_parser().parse_args(argv)
    from evqueue.cluster.team import Team
    from evqueue.config import ConfigError

    try:
        team = Team(args.data, args.config, args.port)
    except (OSError, ConfigError) as exc:
        print(f"evqueue cluster: {exc}", file=sys.stderr)
        return 1
    if not team.members:
        print(f"evqueue cluster: no developer directory in {team.data}", file=sys.stderr)
        return 1
    if args.action == "status":
        lines = [team.status_line(member) for member in team.members]
        print("\n".join(lines))
        return 0 if all(line.endswith(" up") for line in lines) else 1
    act = team.start if args.action == "start" else team.stop
    success = True
    for member in team.members:
        done, message = act(member)
        print(message, file=sys.stdout if done else sys.stderr)
        success = success and done
    return 0 if success else 1
