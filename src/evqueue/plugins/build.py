"""``python -m evqueue.plugins``: list the shipped plugins or build their archives.

Examples::

    python -m evqueue.plugins list
    python -m evqueue.plugins build email              # writes evqueue-email.zip
    python -m evqueue.plugins build webhook -o hook.zip
    evqueue-api '<notification_type action="register" zip="'"$(base64 -w0 hook.zip)"'"/>'
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from evqueue.plugins.archive import PLUGINS, plugin_zip

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The command line parser."""
    parser = argparse.ArgumentParser(
        prog="python -m evqueue.plugins", description="evqueue's notification plugins",
        epilog=__doc__.split("Examples::", 1)[1], formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the shipped plugins")
    build = commands.add_parser("build", help="write a plugin's archive (zip)")
    build.add_argument("name", choices=sorted(PLUGINS), help="the plugin")
    build.add_argument("-o", "--output",
                       help="archive path (default: evqueue-NAME.zip, '-' = stdout)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "list":
        for info in PLUGINS.values():
            print(f"{info.name}\t{info.description}")
        return 0
    data = plugin_zip(args.name)
    output = args.output or f"evqueue-{args.name}.zip"
    if output == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(output, "wb") as out:
            out.write(data)
        print(output)
    return 0
