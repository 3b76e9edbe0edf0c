"""Tests of evqueue.process.leftovers, in a process of their own that becomes a subreaper (as a
monitor does) so the test runner adopts nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.enginekit import pid_alive
from tests.process.helpers import stay_names, write_leaver

PROBE = """
import json, subprocess, sys
from evqueue.process import leftovers
subreaper = leftovers.become_subreaper()
subprocess.run(["/bin/sh", "-c", sys.argv[1]], check=True)
found = leftovers.descendants()
names = [leftovers.describe(pid) for pid in found]
if sys.argv[2] == "kill":
    leftovers.kill_all(found)
print(json.dumps({"subreaper": subreaper, "found": found, "names": names,
                  "after": leftovers.descendants()}))
"""


def probe(tmp_path: Path, action: str) -> tuple[dict, list[int]]:
    done = subprocess.run([sys.executable, "-c", PROBE, write_leaver(tmp_path), action],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout), [int(line) for line in (tmp_path / "pids").read_text().split()]


def kill(pids: list[int]) -> None:
    subprocess.run(["kill", "-9", *map(str, pids)], stderr=subprocess.DEVNULL)


def test_orphans_of_a_subreaper_are_found_and_named(tmp_path: Path) -> None:
    result, pids = probe(tmp_path, "list")
    try:
        assert result["subreaper"] is True
        assert sorted(result["found"]) == sorted(pids)
        assert sorted(result["names"]) == sorted(stay_names(tmp_path, pids))
        assert all(pid_alive(pid) for pid in pids), "listing kills nothing"
    finally:
        kill(pids)


def test_kill_all_leaves_no_descendant(tmp_path: Path) -> None:
    result, pids = probe(tmp_path, "kill")
    assert sorted(result["found"]) == sorted(pids)
    assert result["after"] == []
    assert not any(pid_alive(pid) for pid in pids)
