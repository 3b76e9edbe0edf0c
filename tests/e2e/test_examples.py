"""The shipped example configuration runs as the README says, on the embedded store."""

import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from evqueue.process.ipc import parse_qid, remove_queue
from tests.e2e.nodes import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_mini_config_starts_creates_its_store_and_pidfile_and_stops_cleanly(tmp_path):
    # The README runs it from the top of the source tree: copy the parts it refers to.
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (tmp_path / "var").mkdir()
    pidfile = tmp_path / "var" / "evqueue.pid"
    engine = subprocess.Popen(
        [sys.executable, "-m", "evqueue", "--config", "examples/evqueue-mini.conf"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: (tmp_path / "var" / "evqueue.socket").exists()
                        or engine.poll() is not None, 30)
        assert engine.poll() is None, engine.stderr.read().decode()
        assert pidfile.read_text().strip() == str(engine.pid)
        tables = {row[0] for row in sqlite3.connect(tmp_path / "var" / "evqueue.db").execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"t_workflow", "t_queue", "t_user"} <= tables
    finally:
        engine.send_signal(signal.SIGTERM)
        code = engine.wait(30)
        remove_queue(parse_qid("0xEA023E3C"))
    assert code == 0
    assert not pidfile.exists()
