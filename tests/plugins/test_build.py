"""``python -m evqueue.plugins``: list and build archives."""

from __future__ import annotations

import subprocess
import sys

from evqueue.api.notification import read_plugin
from evqueue.plugins import plugin_zip
from evqueue.plugins.build import main


def test_build_writes_the_archive(tmp_path, capsys) -> None:
    target = tmp_path / "mail.zip"
    assert main(["build", "email", "-o", str(target)]) == 0
    assert target.read_bytes() == plugin_zip("email")
    assert capsys.readouterr().out == f"{target}\n"


def test_list_names_every_plugin(capsys) -> None:
    assert main(["list"]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == [
        "email", "webhook"]


def test_the_module_runs_from_the_command_line(tmp_path) -> None:
    done = subprocess.run([sys.executable, "-m", "evqueue.plugins", "build", "webhook"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert read_plugin((tmp_path / "evqueue-webhook.zip").read_bytes()).name == "webhook"
