"""A node's life: start on a fresh directory, pidfile, daemon mode, second start refused, stop."""

import os
import signal
import sqlite3
import subprocess
import sys

from tests.e2e.nodes import Node, wait_for


def test_foreground_start_creates_store_and_pidfile_and_stops_cleanly(tmp_path):
    node = Node(tmp_path / "n1").start()
    assert node.pid() == node.process.pid
    tables = {row[0] for row in sqlite3.connect(tmp_path / "n1" / "evqueue.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"t_workflow", "t_workflow_instance", "t_queue", "t_user"} <= tables
    assert node.stop(signal.SIGTERM) == 0
    assert node.pid() is None, "pidfile must be removed on a clean exit"


def test_sigint_also_stops_cleanly(tmp_path):
    node = Node(tmp_path / "n1").start()
    assert node.stop(signal.SIGINT) == 0
    assert node.pid() is None


def test_second_engine_on_the_same_pidfile_is_refused(tmp_path):
    node = Node(tmp_path / "n1").start()
    try:
        second = node.run()
        assert second.returncode != 0
        assert f"another engine (pid {node.process.pid}) is running" in second.stderr
        assert node.process.poll() is None, "the first engine must not be disturbed"
        assert node.pid() == node.process.pid
    finally:
        node.stop()


def test_daemon_detaches_and_pidfile_holds_the_daemon_pid(tmp_path):
    node = Node(tmp_path / "n1")
    result = node.run("--daemon")
    assert result.returncode == 0, result.stderr
    pid = node.pid()
    assert pid is not None
    try:
        assert pid != 0
        # the daemon is not our child: the command returned while the node keeps running
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            assert b"evqueue" in cmdline.read()
        # it runs in a session of its own (detached from our terminal)
        with open(f"/proc/{pid}/stat") as stat:
            session = int(stat.read().rsplit(")", 1)[1].split()[3])
        assert session == pid
    finally:
        node.stop()
    assert wait_for(lambda: node.pid() is None, 10), "daemon must remove its pidfile"


def test_startup_error_is_reported_on_the_terminal_with_daemon(tmp_path):
    node = Node(tmp_path / "n1", settings={"processmanager.logs.directory": "/nonexistent/dir"})
    result = node.run("--daemon")
    assert result.returncode == 1
    assert "processmanager.logs.directory" in result.stderr
    assert node.pid() is None


def test_bad_config_line_is_reported_with_file_and_line(tmp_path):
    node = Node(tmp_path / "n1")
    node.config_path.write_text(node.config_path.read_text() + "netwrk.bind.port = 1\n")
    result = node.run()
    assert result.returncode == 1
    lines = node.config_path.read_text().count("\n")
    assert f"evqueue.conf:{lines}: unknown key 'netwrk.bind.port'" in result.stderr


def test_unset_placeholder_is_warned_about(tmp_path):
    node = Node(tmp_path / "n1", settings={"cluster.nodes": "unix:///data/{logn}/evqueue.socket"})
    node.start()
    try:
        assert "placeholder {logn} left as is" in node.output()
    finally:
        node.stop()


def test_cli_flags():
    run = [sys.executable, "-m", "evqueue"]
    version = subprocess.run([*run, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("evQueue version 3.3")
    helped = subprocess.run([*run, "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    for flag in ("--config", "--daemon", "--wait-db", "--ipcq-remove", "--ipcq-stats",
                 "--ipc-terminate-tid"):
        assert flag in helped.stdout
    unknown = subprocess.run([*run, "--bogus"], capture_output=True, text=True)
    assert unknown.returncode != 0 and "usage:" in unknown.stderr
    missing = subprocess.run(run, capture_output=True, text=True)
    assert missing.returncode != 0 and "--config" in missing.stderr


def test_warnings_reach_the_database_log(tmp_path):
    node = Node(tmp_path / "n1").start()
    db = tmp_path / "n1" / "evqueue.db"

    def logged():
        rows = sqlite3.connect(db).execute("SELECT log_level, log_message FROM t_log").fetchall()
        return [message for level, message in rows if "default password" in message]

    try:
        assert wait_for(lambda: bool(logged()), 10), "the admin password warning goes to t_log"
    finally:
        node.stop()


def test_forker_runs_beside_the_node_and_leaves_with_it(tmp_path):
    node = Node(tmp_path / "n1").start()
    forker_pidfile = tmp_path / "n1" / "forker.pid"
    assert wait_for(forker_pidfile.exists, 10)
    forker = int(forker_pidfile.read_text())
    with open(f"/proc/{forker}/comm") as comm:
        assert comm.read().strip() == "evq_forker"
    node.stop()
    assert wait_for(lambda: not os.path.exists(f"/proc/{forker}"), 10)


def test_missing_ipc_directory_stops_startup_naming_it(tmp_path):
    node = Node(tmp_path / "n1", settings={"core.ipc.qid": str(tmp_path / "no-such-dir")})
    result = node.run()
    assert result.returncode == 1
    assert "core.ipc.qid" in result.stderr and "no-such-dir" in result.stderr


def test_ipc_utilities(tmp_path):
    node = Node(tmp_path / "n1")
    stats = node.run("--ipcq-stats")
    assert stats.returncode == 0, stats.stderr
    assert "Queue size : " in stats.stdout and "Pending messages : 0" in stats.stdout
    sent = node.run("--ipc-terminate-tid", "42")
    assert sent.returncode == 0, sent.stderr
    assert "Pending messages : 1" in node.run("--ipcq-stats").stdout
    removed = node.run("--ipcq-remove")
    assert removed.returncode == 0, removed.stderr
    assert "Pending messages : 0" in node.run("--ipcq-stats").stdout
    node.run("--ipcq-remove")


def test_relative_core_wd_is_relative_to_the_start_directory(tmp_path):
    node = Node(tmp_path / "n1")
    config = node.config_path.read_text().replace(f"core.wd = '{tmp_path / 'n1'}'",
                                                  "core.wd = 'n1'")
    node.config_path.write_text(config)
    process = subprocess.Popen(node.command(), cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: node.pid() == process.pid or process.poll() is not None)
        assert process.poll() is None, process.stderr.read()
    finally:
        process.terminate()
        process.wait(20)
