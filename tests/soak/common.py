"""What the soak scripts share: a node for the length of a run, and the report they print.

Rules:
- Soak scripts are run by hand or by a nightly job (``python -m tests.soak.<name> --help``),
  never collected by pytest (no ``test_`` prefix). Each prints its figures as a table on
  stdout and, with ``--json PATH``, writes them as JSON; ``docs/reliability.md`` quotes them.
- A run's node lives in a temporary directory removed at the end, unless ``--keep`` is given
  (then the directory is printed, with the engine log in it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.e2e.nodes import Node

__all__ = ["add_common_arguments", "report", "soak_node"]


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--keep``."""
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--keep", action="store_true",
                        help="keep the node's directory (engine log, store) after the run")


@contextlib.contextmanager
def soak_node(keep: bool, *, name: str = "node1", db_url: str | None = None,
              settings: dict[str, str] | None = None) -> Iterator[Node]:
    """A started node in a fresh temporary directory; stopped (and removed) afterwards."""
    directory = Path(tempfile.mkdtemp(prefix="evq-soak-"))
    node = Node(directory / name, name=name, db_url=db_url, settings=settings)
    try:
        node.start()
        yield node
    finally:
        try:
            node.stop()
        finally:
            node.remove_ipc_queue()
            if keep:
                print(f"node directory kept: {node.directory}")
            else:
                shutil.rmtree(directory, ignore_errors=True)


def report(title: str, figures: dict[str, Any], json_path: str | None) -> None:
    """Print the figures as a two-column table (and write them as JSON when asked)."""
    width = max(len(key) for key in figures)
    print(f"\n{title}")
    print("-" * len(title))
    for key, value in figures.items():
        shown = f"{value:.2f}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    if json_path:
        Path(json_path).write_text(json.dumps({"title": title, **figures}, indent=2,
                                              default=str) + "\n")
