"""``evqueue --help``: the console script tells every way to run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(sys.executable).parent


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPTS / "evqueue"), *argv], capture_output=True, text=True,
                          timeout=30)


def test_help_lists_the_cluster_subcommand_next_to_the_engine_flags():
    result = run("--help")
    assert (result.returncode, result.stderr) == (0, "")
    usage = result.stdout.split("\n\n", 1)[0].splitlines()
    assert usage[0] == "usage: evqueue --config FILE [--daemon] [--wait-db]"
    assert [line.strip() for line in usage[1:]] == [
        "evqueue --config FILE --ipcq-stats | --ipcq-remove | --ipc-terminate-tid TID",
        "evqueue --version",
        "evqueue cluster {start,stop,status} [--data DIR] [--config FILE] [--port BASE]",
    ]
    assert "evqueue cluster ACTION --help" in result.stdout


def test_the_cluster_subcommand_has_its_own_help():
    result = run("cluster", "start", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: evqueue cluster start [-h] [--data DIR]")
