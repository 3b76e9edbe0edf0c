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


def definition_event_rows(text: str) -> list[tuple[set[str], set[tuple[str, str]]]]:
    """(events, commands) per row of the reference's table of definition events.

    A row's command column names commands as `` `group action` `` and goes on with
    `` `action` `` items of the same group (`` `queue create`, `edit`, `delete` ``).
    """
    table = text.split("**Definitions**", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        events, _, commands = (cell.strip() for cell in line.strip("|").split("|"))
        names = set(re.findall(r"`([A-Z_]+)`", events))
        pairs, group = set(), None
        for item in re.findall(r"`([a-z_]+(?: [a-z_]+)?)`", commands):
            if " " in item:
                group, item = item.split()
            pairs.add((group, item))
        rows.append((names, pairs))
    return rows


def test_the_definition_events_are_those_the_commands_publish() -> None:
    from evqueue.api.change_events import CHANGE_EVENTS

    rows = definition_event_rows(API_DOC.read_text(encoding="utf-8"))
    documented = {pair for _, pairs in rows for pair in pairs}
    assert documented == set(CHANGE_EVENTS), (
        f"missing: {sorted(set(CHANGE_EVENTS) - documented)}, "
        f"not published: {sorted(documented - set(CHANGE_EVENTS))}")
    for command, published in CHANGE_EVENTS.items():
        names = {event.value for event in published.types}
        assert any(command in pairs and names <= events for events, pairs in rows), command
