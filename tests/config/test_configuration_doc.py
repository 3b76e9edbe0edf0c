"""docs/configuration.md lists every key as the key table defines it, and is what the generator
gives (``python -m evqueue.config.document > docs/configuration.md``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from evqueue.config import KEYS
from evqueue.config.document import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\| `(?P<name>[^`]+)` \| (?P<type>[\w-]+) \| (?P<default>[^|]+?) "
                 r"\| (?P<origin>ours|evQueue) \|", re.M)


def documented() -> dict[str, dict[str, str]]:
    return {m["name"]: m.groupdict() for m in ROW.finditer(DOC.read_text())}


def test_the_committed_doc_is_what_the_generator_gives():
    assert DOC.read_text() == render(), (
        "docs/configuration.md is stale: run "
        "`python -m evqueue.config.document > docs/configuration.md`")


def test_the_generator_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "evqueue.config.document"],
                            capture_output=True, text=True, check=True)
    assert result.stdout == render()


def test_every_key_is_documented_once_and_nothing_else():
    names = ROW.findall(DOC.read_text())
    assert len(names) == len(KEYS)
    assert set(documented()) == set(KEYS)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_each_row_gives_the_key_default_type_and_origin(name):
    row, key = documented()[name], KEYS[name]
    assert row["default"] == (f"`{key.default}`" if key.default else "(empty)")
    assert row["type"] == key.type.value
    assert row["origin"] == ("ours" if key.ours else "evQueue")


def test_every_type_used_is_explained():
    text = DOC.read_text()
    for kind in {key.type for key in KEYS.values()}:
        assert re.search(rf"^\| {re.escape(kind.value)} \| \S", text, re.M), kind


def test_the_doc_says_when_a_change_takes_effect():
    # No key is read again after start-up: SIGHUP reloads the store's definitions only.
    assert "takes effect when the node is restarted" in DOC.read_text()
