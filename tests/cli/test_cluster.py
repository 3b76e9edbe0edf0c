"""``evqueue cluster start|stop|status``, reached through the engine's command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from evqueue.cli import engine

SHIPPED = str(Path(__file__).resolve().parents[2] / "examples" / "multiuser" /
              "evqueue.multiuser.conf")


def test_status_of_a_team_that_does_not_run(tmp_path, capsys):
    for name in ("alice", "bob"):
        (tmp_path / name).mkdir()
    code = engine.main(["cluster", "status", "--data", str(tmp_path), "--config", SHIPPED,
                        "--port", "7300"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1, "not every node is up"
    assert [line.split()[0] for line in out] == ["alice", "bob"]
    assert out[1].startswith(f"bob    pid -        unix://{tmp_path}/bob/evqueue.socket  "
                             "ws 7301  ipc 0x")
    assert all(line.endswith("  down") for line in out)


def test_stop_when_nothing_runs_succeeds(tmp_path, capsys):
    (tmp_path / "alice").mkdir()
    assert engine.main(["cluster", "stop", "--data", str(tmp_path), "--config", SHIPPED]) == 0
    assert capsys.readouterr().out == "alice is not running\n"


def test_errors_are_reported_on_stderr(tmp_path, capsys):
    assert engine.main(["cluster", "start", "--data", str(tmp_path), "--config", SHIPPED]) == 1
    assert f"no developer directory in {tmp_path}" in capsys.readouterr().err
    assert engine.main(["cluster", "status", "--data", str(tmp_path / "none")]) == 1
    assert "evqueue cluster: " in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        engine.main(["cluster", "restart"])
    assert usage.value.code == 2


def test_the_engine_flags_are_unchanged(capsys):
    assert engine.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("evQueue version 3.3")
    assert engine.main([]) == 2
    assert "--config FILE is required" in capsys.readouterr().err
