"""docs/api.md documents every command a node serves.

The reference is organised as one ``### group`` heading per command group, followed by a table
whose rows start with the action (`` | `launch` | ``, `` | `tag` / `untag` | ``; ``(none)`` for
the group that takes no action, ``ping``).
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.security.kit import served_routes

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"

_GROUP = re.compile(r"^### ([a-z_]+)\s*$")
_ROW = re.compile(r"^\| ((?:`[a-z_]+`|\(none\))(?: / `[a-z_]+`)*) \|")


def documented_routes(text: str) -> set[tuple[str, str | None]]:
    """The (group, action) pairs of the reference's tables; ``(none)`` is the action None."""
    found: set[tuple[str, str | None]] = set()
    group: str | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = _GROUP.match(line)
            group = heading.group(1) if heading else None
            continue
        row = _ROW.match(line)
        if group is not None and row is not None:
            for action in row.group(1).split(" / "):
                found.add((group, None if action == "(none)" else action.strip("`")))
    return found


def test_every_served_command_is_documented() -> None:
    missing = set(served_routes()) - documented_routes(API_DOC.read_text(encoding="utf-8"))
    assert not missing, f"served but missing from docs/api.md: {sorted(missing, key=str)}"


def test_the_reference_documents_no_command_the_node_does_not_serve() -> None:
    unknown = documented_routes(API_DOC.read_text(encoding="utf-8")) - set(served_routes())
    assert not unknown, f"in docs/api.md but not served: {sorted(unknown, key=str)}"


def test_a_missing_action_is_noticed() -> None:
    text = "### queue\n\n| action | a |\n| --- | --- |\n| `get` | x |\n| `tag` / `untag` | y |\n"
    assert documented_routes(text) == {("queue", "get"), ("queue", "tag"), ("queue", "untag")}
    assert ("queue", "delete") not in documented_routes(text)


def test_every_served_command_has_an_example_exchange() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    shown = set()
    for group, attrs in re.findall(r"^C> <([a-z_]+)\b([^>]*)>", text, re.M):
        action = re.search(r"\baction=['\"]([a-z_]+)['\"]", attrs)
        shown.add((group, action.group(1) if action else None))
    missing = [route for route in served_routes() if route not in shown]
    assert not missing, f"no example exchange in docs/api.md for: {missing}"
