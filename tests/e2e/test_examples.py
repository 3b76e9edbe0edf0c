"""Every configuration we ship starts a node that answers: the files under ``examples/`` and the
configuration snippets of the README.

Each configuration runs as its comments say (from the top of a copy of the source tree), with
only what a test machine needs changed: absolute system directories (``/var/lib/evqueue``,
``/run/evqueue``, ``/data``, …) are moved under a temporary root, the TCP and websocket ports
are free ones, and a README snippet gets a working directory and an embedded store of its own
(its database server is an example). The directories the configuration names are created first,
as a packager or the example's comments would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sysv_ipc

from evqueue.client.sync import Client
from evqueue.config import load_config
from evqueue.process.ipc import open_queue, parse_qid, remove_queue
from tests.e2e.enginekit import pid_alive
from tests.e2e.nodes import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: Absolute directories the shipped files name, moved under the test's root.
SYSTEM_DIRS = re.compile(r"(?<![\w.])(/var/lib/evqueue|/run/evqueue|/usr/share/evqueue|/data)"
                         r"(?=/|\b)")
#: Keys naming directories a node expects to exist, and keys naming files in one.
DIRECTORY_KEYS = ("core.wd", "processmanager.logs.directory", "processmanager.scripts.directory",
                  "processmanager.tasks.directory", "notifications.tasks.directory",
                  "notifications.logs.directory", "forker.pipes.directory")
FILE_KEYS = ("core.pidfile", "forker.pidfile", "network.bind.path")
#: A ``key = value`` line of a configuration file.
CONFIG_LINE = re.compile(r"^\s*[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+\s*=")


def shipped_configs() -> list[Path]:
    """Every configuration file under ``examples/``."""
    return sorted(EXAMPLES.rglob("*.conf"))


def readme_snippets() -> list[str]:
    """The README's fenced code blocks made only of configuration lines (and comments)."""
    text = (ROOT / "README.md").read_text()
    snippets = []
    for block in re.findall(r"^```[\w-]*\n(.*?)^```", text, re.M | re.S):
        lines = [line for line in block.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        if lines and all(CONFIG_LINE.match(line) for line in lines):
            snippets.append(block)
    return snippets


def test_the_readme_has_configuration_snippets():
    # Otherwise the parametrized test below would silently test none.
    assert readme_snippets(), "no configuration block found in README.md"


class ExampleNode:
    """A node started from one configuration file in a copy of the source tree."""

    def __init__(self, tree: Path, config: Path) -> None:
        self.tree = tree
        self.config = config
        self.env = {**os.environ, "PWD": str(tree), "login": "alice",
                    "port": str(free_port()),
                    "cluster": f"unix://{tree}/data/alice/evqueue.socket"}
        self.process: subprocess.Popen[bytes] | None = None
        self.cfg = None

    def localize(self, extra: str = "") -> None:
        """Move system directories under the tree, use free ports, append ``extra`` lines."""
        text = SYSTEM_DIRS.sub(lambda m: f"{self.tree}{m.group(1)}", self.config.read_text())
        if not text.endswith("\n"):
            text += "\n"
        text += (f"network.bind.port = {free_port()}\nws.bind.port = {free_port()}\n"
                 "logger.syslog.enable = no\n" + extra)
        self.config.write_text(text)

    def prepare(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Create the directories the configuration names (relative paths as the node sees
        them) and drop a SysV queue a recycled inode could bring back."""
        monkeypatch.chdir(self.tree)
        self.cfg = load_config(self.config, environ=self.env)
        for key in DIRECTORY_KEYS:
            if self.cfg.path(key):
                Path(self.cfg.path(key)).mkdir(parents=True, exist_ok=True)
        for key in FILE_KEYS:
            if self.cfg.path(key):
                Path(self.cfg.path(key)).parent.mkdir(parents=True, exist_ok=True)
        qid = self.cfg.raw("core.ipc.qid")
        if "/" in qid:
            Path(qid).mkdir(parents=True, exist_ok=True)
        url = self.cfg.raw("database.url")
        if url.startswith("sqlite:///"):
            Path(self.cfg.path("core.wd"), url.removeprefix("sqlite:///")).parent.mkdir(
                parents=True, exist_ok=True)
        self.remove_queue()

    @property
    def connect(self) -> str:
        """The API address to try: the unix socket, else TCP."""
        if self.cfg["network.bind.path"]:
            return f"unix://{self.cfg.path('network.bind.path')}"
        return f"tcp://127.0.0.1:{self.cfg['network.bind.port']}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evqueue", "--config", str(self.config)], cwd=self.tree,
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def ping(self) -> dict[str, str] | None:
        """The attributes of the node's answer to ``<ping/>``, None while it does not answer."""
        try:
            with Client(self.connect, "admin", "admin", timeout=5) as client:
                return dict(client.exec("<ping/>").attrib)
        except OSError:
            return None

    def wait_until_it_answers(self) -> dict[str, str]:
        answer: dict[str, str] = {}
        assert self.process is not None
        wait_for(lambda: bool(answer.update(self.ping() or {}) or answer)
                 or self.process.poll() is not None, 30, interval=0.1)
        assert self.process.poll() is None, self.process.stderr.read().decode()
        assert answer, "the node did not answer <ping/> in 30 s"
        return answer

    def stop(self) -> int | None:
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            code = self.process.wait(30)
        self.remove_queue()
        return code

    def remove_queue(self) -> None:
        if self.cfg is not None:
            remove_queue(parse_qid(self.cfg.raw("core.ipc.qid")))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the parts of the source tree the examples refer to."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    return tmp_path


@pytest.fixture
def example_node(tree: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """``example_node(config_path, extra='') -> ExampleNode``, started; stopped at teardown."""
    nodes: list[ExampleNode] = []

    def start(config: Path, extra: str = "") -> ExampleNode:
        node = ExampleNode(tree, config)
        nodes.append(node)
        node.localize(extra)
        node.prepare(monkeypatch)
        node.start()
        return node

    yield start
    for node in nodes:
        node.stop()


@pytest.mark.parametrize("config", shipped_configs(),
                         ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_shipped_configuration_starts_a_node_that_answers_ping(
        config: Path, tree: Path, example_node) -> None:
    node = example_node(tree / "examples" / config.relative_to(EXAMPLES))
    answer = node.wait_until_it_answers()
    assert answer["status"] == "OK"
    assert answer["version"] == "3.3"
    assert node.stop() == 0


@pytest.mark.parametrize("snippet", readme_snippets(),
                         ids=lambda s: s.split("\n", 1)[0][:40])
def test_every_readme_configuration_snippet_starts_a_node_that_answers_ping(
        snippet: str, tree: Path, example_node) -> None:
    home = tree / "snippet"
    config = tree / "snippet.conf"
    # Where the node keeps its files, before the snippet (the snippet's own keys win)…
    config.write_text(
        f"core.wd = {home}\ncore.pidfile = evqueue.pid\nforker.pidfile = forker.pid\n"
        f"core.ipc.qid = {home}\nnetwork.bind.path = evqueue.socket\n"
        "processmanager.logs.directory = .\nprocessmanager.scripts.directory = .\n"
        "notifications.tasks.directory = .\nnotifications.logs.directory = .\n" + snippet)
    # …and, after it, a store this machine has (the snippet's server is an example).
    node = example_node(config, extra="database.url = sqlite:///evqueue.db\n")
    answer = node.wait_until_it_answers()
    assert answer["status"] == "OK"
    assert node.stop() == 0


def test_mini_config_creates_its_store_and_pidfile_and_stops_cleanly(tree: Path, example_node):
    (tree / "var").mkdir()  # scripts/demo.sh creates it
    node = example_node(tree / "examples" / "evqueue-mini.conf")
    node.wait_until_it_answers()
    pidfile = tree / "var" / "evqueue.pid"
    assert pidfile.read_text().strip() == str(node.process.pid)
    tables = {row[0] for row in sqlite3.connect(tree / "var" / "evqueue.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"t_workflow", "t_queue", "t_user"} <= tables
    assert node.stop() == 0
    assert not pidfile.exists()


# -- scripts/demo.sh, as the README runs it -----------------------------------------------------

MINI_QID = "0xEA023E3C"


@pytest.fixture
def demo_tree(tree: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A copy of the tree with scripts/demo.sh and a ``.venv`` whose ``pip`` only notes what it
    is asked (the real install is this test run's) and whose commands are this run's; the mini
    configuration gets free ports. Yields the tree and the environment to run the script in.
    Whatever node the script left is stopped at teardown."""
    (tree / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "demo.sh", tree / "scripts" / "demo.sh")
    venv = tree / ".venv" / "bin"
    venv.mkdir(parents=True)
    for name in ("python", "evqueue", "evqueue-api"):
        (venv / name).write_text(f'#!/bin/sh\nexec {Path(sys.executable).parent / name} "$@"\n')
    (venv / "pip").write_text(f'#!/bin/sh\necho "$@" > {tree / "pip-args"}\n')
    for script in venv.iterdir():
        script.chmod(0o755)
    with open(tree / "examples" / "evqueue-mini.conf", "a") as conf:
        conf.write(f"network.bind.port = {free_port()}\nws.bind.port = {free_port()}\n")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("EVQUEUE_API_", "LC_"))}
    env.update(HOME=str(tree), LANG="C")
    remove_queue(parse_qid(MINI_QID))
    yield tree, env
    pidfile = tree / "var" / "evqueue.pid"
    if pidfile.exists() and pid_alive(int(pidfile.read_text())):
        os.kill(int(pidfile.read_text()), signal.SIGTERM)
        wait_for(lambda: not pid_alive(int(pidfile.read_text())) if pidfile.exists() else True, 30)
    remove_queue(parse_qid(MINI_QID))


def _queue_exists() -> bool:
    try:
        open_queue(parse_qid(MINI_QID), create=False)
    except sysv_ipc.ExistentialError:
        return False
    return True


def _ping(tree: Path) -> str:
    with Client(f"unix://{tree}/var/evqueue.socket", "admin", "admin") as client:
        return client.exec("<ping/>").get("status")


def test_demo_runs_the_hello_workflow_and_leaves_the_node_serving_in_the_background(demo_tree):
    tree, env = demo_tree
    first = subprocess.run(["bash", "scripts/demo.sh"], cwd=tree, env=env, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert (tree / "pip-args").read_text().split() == [
        "install", "-q", "--disable-pip-version-check", "-e", "."]
    out = first.stdout
    pid = int((tree / "var" / "evqueue.pid").read_text())
    assert f"Node started in the background (pid {pid})." in out
    assert "Running the demo workflow 'hello':" in out
    assert f"Hello {subprocess.getoutput('id -un')} from" in out
    # The script has returned; the node goes on serving.
    assert pid_alive(pid) and _ping(tree) == "OK"
    conf = load_config(tree / "examples" / "evqueue-mini.conf")
    assert f"tcp://127.0.0.1:{conf['network.bind.port']}" in out
    assert f"http://127.0.0.1:{conf['ws.bind.port']}/" in out
    # What the node only writes to its log, the user sees here.
    assert "Warning: user 'admin' still has the password 'admin'" in out
    assert "Stop it with: kill $(cat var/evqueue.pid)" in out
    assert ".venv/bin/evqueue --config examples/evqueue-mini.conf --ipcq-remove" in out

    again = subprocess.run(["bash", "scripts/demo.sh"], cwd=tree, env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"A node already runs (pid {pid})." in again.stdout
    assert "Hello " in again.stdout

    # The README's stop command; the node's queue stays until --ipcq-remove.
    subprocess.run("kill $(cat var/evqueue.pid)", shell=True, cwd=tree, check=True)
    assert wait_for(lambda: not pid_alive(pid), 30)
    assert not (tree / "var" / "evqueue.pid").exists()
    assert _queue_exists()
    removed = subprocess.run(
        [".venv/bin/evqueue", "--config", "examples/evqueue-mini.conf", "--ipcq-remove"],
        cwd=tree, env=env, capture_output=True, text=True, timeout=30)
    assert removed.returncode == 0, removed.stderr
    assert not _queue_exists()


def test_demo_in_the_foreground_runs_the_workflow_and_stops_on_ctrl_c(demo_tree):
    tree, env = demo_tree
    demo = subprocess.Popen(["bash", "scripts/demo.sh", "--foreground"], cwd=tree, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []
    # Read in the background: a script that never gets there must fail the test, not hang it.
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("The node runs in this terminal: Ctrl-C stops it.")
                             for line in list(lines)) or demo.poll() is not None, 120, 0.1)
        out = "".join(lines)
        assert "The node runs in this terminal: Ctrl-C stops it." in out, out
        assert "Hello " in out, out
        # The node's own start-up warning reaches the terminal, and the script's too.
        assert "still has the default password 'admin'" in out
        assert "Warning: user 'admin' still has the password 'admin'" in out
        pid = int((tree / "var" / "evqueue.pid").read_text())
        assert _ping(tree) == "OK"
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        assert demo.wait(30) == 0, "".join(lines)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGTERM)
            demo.wait(30)
        reader.join(30)
    assert not pid_alive(pid)
    assert not (tree / "var" / "evqueue.pid").exists()
