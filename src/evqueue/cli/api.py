"""``evqueue-api``: talk to a node's XML API from the shell."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

USAGE = """usage: evqueue-api [--connect tcp://HOST[:PORT]|unix://PATH] [--user U]
                   [--password P] ...
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``evqueue-api``; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.write(USAGE)
    return 0 if args in ([], ["--help"], ["-h"]) else 2
