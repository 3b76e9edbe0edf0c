"""What the browser tests of the web UI need: Debian's Chromium, a two-node cluster, a watch
on the websocket traffic, and screenshots.

Rules:
- The browser is Debian's ``chromium`` (``scripts/browser.sh`` installs it), launched by
  Playwright through ``executable_path`` with the flags this machine needs (frontend.md §4.3);
  Playwright gives every launch a fresh profile directory. When it is missing the tests fail
  with a message saying how to install it: they are never skipped.
- The cluster is two real engines sharing one SQLite file; tasks are shell scripts under the
  cluster's directory, called by absolute path: ``count`` (a parameter, six lines over ~3 s),
  ``long`` (sleeps until killed) and ``big`` (an output sent to the datastore).
- :class:`WireWatch` reads every websocket frame the page sends and receives, so a test can
  wait until every request of a page has been answered (no sleep) and see which command an
  engine refused.
- Screenshots go to ``screenshots/`` at the repository root (ignored by git) at a laptop
  viewport, for a reviewer to look at.
"""

from __future__ import annotations

import base64
import os
import shutil
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pytest
from lxml import etree

from evqueue.client.sync import Client
from tests.e2e.nodes import Node, wait_for

__all__ = [
    "CHROMIUM_FLAGS",
    "SCREENSHOTS",
    "TIMEOUT_MS",
    "VIEWPORT",
    "UiCluster",
    "WireFailure",
    "WireWatch",
    "assert_clean",
    "chromium_path",
    "close_dialogs",
    "shot",
    "start_cluster",
]

#: Flags Chromium needs here: no sandbox as root, no GPU, and no background traffic to hosts
#: this machine's closed network refuses (frontend.md §4.3).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]

#: Time for what the engine does on its own (a task of ~3 s, a push, a page's requests).
TIMEOUT_MS = 15_000

#: A laptop screen.
VIEWPORT = {"width": 1366, "height": 768}

#: Where the screenshots go (the repository root's ``screenshots/``).
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"

_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_path() -> str:
    """The Chromium binary to drive; fails the test (never skips) when there is none."""
    wanted = os.environ.get("EVQUEUE_CHROMIUM")
    for path in ([wanted] if wanted else []) + list(_CANDIDATES):
        if path and os.access(path, os.X_OK):
            return path
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail("Chromium is not installed: the web UI tests need Debian's chromium at "
                "/usr/bin/chromium (run `bash scripts/browser.sh`, or set EVQUEUE_CHROMIUM)",
                pytrace=False)


# -- the cluster ---------------------------------------------------------------------------------

COUNT_SCRIPT = """#!/bin/sh
# Prints six lines over about three seconds; the last three only once {gate} exists (at most
# 60 s later), so a test sees the task running with part of its output, however slow the
# machine.
for i in 1 2 3; do echo "line $i for $1"; sleep 0.5; done
n=0
while [ ! -e {gate} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
for i in 4 5 6; do echo "line $i for $1"; sleep 0.5; done
"""

BIG_SCRIPT = """#!/bin/sh
# About 2.5 KB of output: more than the nodes keep in an instance document (1K).
for i in $(seq 1 200); do echo "big line $i"; done
"""

LONG_SCRIPT = """#!/bin/sh
# Writes its pid, then sleeps far longer than any test.
echo $$ > {pidfile}
exec sleep 600
"""


#: Outputs of 1 KiB or more go to the datastore (the UI loads them on request).
NODE_SETTINGS = {"datastore.dom.maxsize": "1K"}


def _workflow(path: Path, *, parameter: str | None = None) -> str:
    params = f"<parameters><parameter name='{parameter}'/></parameters>" if parameter else ""
    task_input = (f"<input name='{parameter}'><value select=\"evqGetWorkflowParameter("
                  f"'{parameter}')\"/></input>") if parameter else ""
    return (f"<workflow>{params}<subjobs><job name='main'><tasks>"
            f"<task path={quoteattr(str(path))} queue='default'>{task_input}</task>"
            f"</tasks></job></subjobs></workflow>")


@dataclass
class UiCluster:
    """Two running nodes on one store, and the workflows the tests launch."""

    directory: Path
    nodes: list[Node]
    workflow_ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The web UI of the first node."""
        return f"http://127.0.0.1:{self.nodes[0].ws_port}/"

    @property
    def gate(self) -> Path:
        """The file that lets the ``count`` task print its last lines."""
        return self.directory / "gate"

    @property
    def long_pidfile(self) -> Path:
        """Where the long task writes its pid."""
        return self.directory / "long.pid"

    def client(self, index: int = 0) -> Client:
        """A logged-in API client on a node (close it after use)."""
        return Client(f"unix://{self.nodes[index].socket_path}", "admin", "admin")

    def stop(self) -> None:
        """Stop every node and drop their IPC queues."""
        for node in self.nodes:
            try:
                node.stop()
            finally:
                node.remove_ipc_queue()


def start_cluster(directory: Path) -> UiCluster:
    """Start node1 and node2 on one SQLite file, create the test workflows, and wait until the
    first node lists both (what the UI asks at login)."""
    tasks = directory / "tasks"
    tasks.mkdir(parents=True)
    count = tasks / "count.sh"
    count.write_text(COUNT_SCRIPT.format(gate=directory / "gate"))
    long = tasks / "long.sh"
    long.write_text(LONG_SCRIPT.format(pidfile=directory / "long.pid"))
    big = tasks / "big.sh"
    big.write_text(BIG_SCRIPT)
    for script in (count, long, big):
        script.chmod(0o755)
    db_url = f"sqlite:///{directory / 'cluster.db'}"
    cluster = UiCluster(directory, [])
    try:
        for name in ("node1", "node2"):
            cluster.nodes.append(Node(directory / name, name=name, db_url=db_url,
                                      settings=NODE_SETTINGS).start())
        with cluster.client() as client:
            for name, path, parameter in (("count", count, "who"), ("long", long, None),
                                          ("big", big, None)):
                content = base64.b64encode(_workflow(path, parameter=parameter).encode()).decode()
                reply = client.exec(f"<workflow action='create' name='{name}' group='browser' "
                                    f"comment='browser test' content='{content}'/>")
                cluster.workflow_ids[name] = reply.get("workflow-id")
            if not wait_for(lambda: len(client.exec("<cluster action='list'/>")) == 2,
                            interval=0.2):
                raise TimeoutError("the nodes did not both join the cluster registry")
    except BaseException:
        cluster.stop()
        raise
    return cluster


# -- the wire ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WireFailure:
    """A command an engine answered KO."""

    url: str
    command: str
    error: str
    code: str

    def __str__(self) -> str:
        return f"{self.url}: {self.command} -> {self.code} {self.error}"


def _root(frame: str) -> etree._Element | None:
    try:
        return etree.fromstring(frame.encode())
    except etree.XMLSyntaxError:
        return None


class _Socket:
    """What one websocket of the page has asked and not yet been answered."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.requests: deque[str] = deque()  # api socket: commands waiting, in order
        self.subscriptions: dict[str, str] = {}  # events socket: external id -> api command
        self.waiting: set[str] = set()  # events socket: external ids asked with send_now
        self.closed = False

    def sent(self, frame: str) -> None:
        root = _root(frame)
        if root is None or root.tag == "auth":
            return
        if root.tag == "event":
            external = root.get("external_id", "")
            if root.get("action") == "subscribe":
                api_cmd = base64.b64decode(root.get("api_cmd", "")).decode(errors="replace")
                self.subscriptions[external] = api_cmd
                if root.get("send_now") == "yes":
                    self.waiting.add(external)
            elif root.get("action") in ("unsubscribe", "unsubscribeall"):
                self.waiting.discard(external)
            return
        self.requests.append(frame)

    def received(self, frame: str) -> WireFailure | None:
        root = _root(frame)
        if root is None or root.tag != "response":
            return None  # greeting, challenge
        external = root.get("external-id")
        if external is not None:
            self.waiting.discard(external)
            command = self.subscriptions.get(external, "?")
        else:
            command = self.requests.popleft() if self.requests else "?"
        if root.get("status") == "KO":
            return WireFailure(self.url, command, root.get("error", ""),
                               root.get("error-code", ""))
        return None

    @property
    def pending(self) -> int:
        return 0 if self.closed else len(self.requests) + len(self.waiting)


class WireWatch:
    """Every websocket of one page: pending requests, refused commands, and the errors the
    page reported (uncaught exceptions and ``console.error``)."""

    def __init__(self, page) -> None:
        self.page = page
        self.sockets: list[_Socket] = []
        self.failures: list[WireFailure] = []
        self.page_errors: list[str] = []
        page.on("websocket", self._opened)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._console)

    def _opened(self, ws) -> None:
        sock = _Socket(ws.url)
        self.sockets.append(sock)
        ws.on("framesent", lambda payload: sock.sent(_text(payload)))
        ws.on("framereceived", lambda payload: self._received(sock, _text(payload)))
        ws.on("close", lambda _ws: setattr(sock, "closed", True))

    def _console(self, message) -> None:
        # The UI reports every failure it shows with console.error (ui.js showError).
        if message.type == "error":
            self.page_errors.append(f"console: {message.text}")

    def _received(self, sock: _Socket, frame: str) -> None:
        failure = sock.received(frame)
        if failure is not None:
            self.failures.append(failure)

    def pending(self) -> int:
        """Requests sent and not answered yet, over every open socket."""
        return sum(sock.pending for sock in self.sockets)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every request of the page has its answer."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                waiting = [(s.url, list(s.requests), sorted(s.waiting)) for s in self.sockets
                           if s.pending]
                raise AssertionError(f"requests still unanswered: {waiting}")
            self.page.wait_for_timeout(20)  # lets Playwright deliver the frames

    def take(self) -> tuple[list[WireFailure], list[str]]:
        """The refused commands and page errors seen since the last call."""
        failures, errors = self.failures, self.page_errors
        self.failures, self.page_errors = [], []
        return failures, errors


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode(errors="replace")


def assert_clean(wire: WireWatch, allowed=lambda failure: False) -> None:
    """Every request of the page was answered, none refused (but ``allowed`` ones), no page
    error."""
    wire.settle()
    failures, errors = wire.take()
    assert not errors, errors
    refused = [f for f in failures if not allowed(f)]
    assert not refused, "\n".join(map(str, refused))


def shot(page, name: str, *, full_page: bool = False) -> None:
    """A screenshot of the page in ``screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def close_dialogs(page) -> None:
    """Close every open dialog and let their handlers run: a dialog's 'close' event comes
    after ``close()``, and its handler edits the URL, which must not race the next test's
    navigation."""
    page.evaluate("document.querySelectorAll('dialog[open]').forEach((d) => d.close())")
    page.wait_for_function("!document.querySelector('dialog')")
