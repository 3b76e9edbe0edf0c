"""Helpers for the end-to-end tests of the workflow engine and the process layer.

Rules:
- A node of these tests runs shell-script tasks from ``<node directory>/tasks``
  (``processmanager.tasks.directory``) and shares files with them through ``<node directory>/
  shared``; scripts get absolute paths written into their text, never through the environment.
- Every request goes through the real XML API (:class:`evqueue.client.sync.Client`) over the
  node's unix socket; waits are on the engine (``instance wait``) or on a polled fact with a
  deadline, never a bare sleep.
"""

from __future__ import annotations

import base64
import contextlib
import signal
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from lxml import etree

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from tests.e2e.nodes import Node, wait_for

#: A file that opens every gate: tasks of a failed test do not outlive it.
RELEASE_ALL = "release-all"

__all__ = [
    "EngineNode",
    "client",
    "max_overlap",
    "one_job",
    "pid_alive",
    "read_lines",
]


class EngineNode(Node):
    """A :class:`Node` with a tasks directory, a shared directory and API helpers."""

    def __init__(self, directory: Path, *, name: str = "node1", db_url: str | None = None,
                 settings: dict[str, str] | None = None) -> None:
        directory = Path(directory)
        self.tasks = directory / "tasks"
        self.shared = directory / "shared"
        self.tasks.mkdir(parents=True, exist_ok=True)
        self.shared.mkdir(parents=True, exist_ok=True)
        values = {"processmanager.tasks.directory": str(self.tasks)}
        values.update(settings or {})
        super().__init__(directory, name=name, db_url=db_url, settings=values)
        self.db_path = (Path(db_url.removeprefix("sqlite:///")) if db_url
                        else directory / "evqueue.db")
        self._client: Client | None = None

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> EngineNode:
        super().start()
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        self.disconnect()
        return super().stop(sig, timeout)

    def close(self) -> None:
        """Release every gated task, stop the node (if running, killing it if it does not
        stop), remove its IPC queue."""
        (self.shared / RELEASE_ALL).touch()
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGKILL)
        finally:
            self.remove_ipc_queue()

    def gate(self, name: str) -> str:
        """Shell lines that wait until ``open_gate(name)`` (or :meth:`close`)."""
        return (f"while [ ! -e {self.shared}/{name}.gate ] && [ ! -e {self.shared}/{RELEASE_ALL} ]"
                "; do sleep 0.05; done")

    def open_gate(self, name: str) -> None:
        """Let the tasks waiting on gate ``name`` go on."""
        (self.shared / f"{name}.gate").touch()

    # -- API ----------------------------------------------------------------------------------

    @property
    def api(self) -> Client:
        """A logged-in client, reconnected after a restart."""
        if self._client is None:
            self._client = client(self)
        return self._client

    def disconnect(self) -> None:
        """Close the cached client (before the node stops)."""
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None

    def exec(self, xml: str) -> etree._Element:
        """One request on the cached client."""
        return self.api.exec(xml)

    def task(self, name: str, body: str) -> Path:
        """Write an executable ``/bin/sh`` script ``tasks/<name>``."""
        path = self.tasks / name
        path.write_text("#!/bin/sh\n" + body.strip("\n") + "\n")
        path.chmod(0o755)
        return path

    def workflow(self, name: str, xml: str) -> int:
        """Create (or replace) workflow ``name``; return its id."""
        content = base64.b64encode(xml.encode()).decode()
        try:
            existing = self.exec(f"<workflow action='get' name='{name}'/>")
        except ApiError:
            answer = self.exec(f"<workflow action='create' name='{name}' content='{content}'/>")
            return int(answer.get("workflow-id"))
        workflow_id = int(existing[0].get("id"))
        self.exec(f"<workflow action='edit' id='{workflow_id}' name='{name}' "
                  f"content='{content}'/>")
        return workflow_id

    def queue(self, name: str, concurrency: int, scheduler: str = "fifo") -> None:
        """Create queue ``name``."""
        self.exec(f"<queue action='create' name='{name}' concurrency='{concurrency}' "
                  f"scheduler='{scheduler}' dynamic='no'/>")

    def launch(self, name: str, parameters: dict[str, str] | None = None, *,
               mode: str = "asynchronous", timeout: int = 0) -> etree._Element:
        """``instance launch``; returns the response (``workflow-instance-id``, ``wait``)."""
        children = "".join(f"<parameter name={quoteattr(k)} value={quoteattr(v)}/>"
                           for k, v in (parameters or {}).items())
        return self.exec(f"<instance action='launch' name='{name}' mode='{mode}' "
                         f"timeout='{timeout}'>{children}</instance>")

    def start_instance(self, name: str, parameters: dict[str, str] | None = None) -> int:
        """Launch asynchronously; return the instance id."""
        return int(self.launch(name, parameters).get("workflow-instance-id"))

    def wait(self, instance_id: int, timeout: int = 30) -> None:
        """``instance wait`` (raises TIMED_OUT); an instance already ended returns at once."""
        with contextlib.suppress(ApiError):
            self.exec(f"<instance action='wait' id='{instance_id}' timeout='{timeout}'/>")
        assert wait_for(lambda: self.query(instance_id).get("status") == "TERMINATED",
                        timeout), f"instance {instance_id} did not end"

    def query(self, instance_id: int) -> etree._Element:
        """The instance XML (``<workflow>``)."""
        return self.exec(f"<instance action='query' id='{instance_id}'/>")[0]

    def run_workflow(self, name: str, parameters: dict[str, str] | None = None,
                     timeout: int = 30) -> etree._Element:
        """Launch, wait for the end, return the final instance XML."""
        instance_id = self.start_instance(name, parameters)
        self.wait(instance_id, timeout)
        return self.query(instance_id)

    # -- the store ----------------------------------------------------------------------------

    def db_rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        """Rows of a read-only query on the node's SQLite store."""
        with contextlib.closing(sqlite3.connect(self.db_path, timeout=10)) as db:
            return db.execute(sql, args).fetchall()

    def savepoint(self, instance_id: int) -> etree._Element | None:
        """The stored savepoint of an instance (None when empty or absent)."""
        rows = self.db_rows("SELECT workflow_instance_savepoint FROM t_workflow_instance "
                            "WHERE workflow_instance_id = ?", (instance_id,))
        if not rows or not rows[0][0]:
            return None
        return etree.fromstring(rows[0][0].encode())


def started(node: EngineNode) -> EngineNode:
    """Start ``node``; if it fails, leave nothing behind."""
    try:
        return node.start()
    except BaseException:
        node.close()
        raise


def client(node: Node) -> Client:
    """A client logged in as admin on the node's unix socket."""
    return Client(f"unix://{node.socket_path}", "admin", "admin", timeout=60).connect()


def one_job(*tasks: str, name: str = "j", parameters: Sequence[str] = ()) -> str:
    """A workflow of one job holding ``tasks`` (``<task …/>`` strings)."""
    params = "".join(f"<parameter name='{p}'/>" for p in parameters)
    head = f"<parameters>{params}</parameters>" if parameters else ""
    return (f"<workflow>{head}<subjobs><job name='{name}'><tasks>{''.join(tasks)}</tasks>"
            f"</job></subjobs></workflow>")


def read_lines(path: Path) -> list[str]:
    """The lines of a shared file (none when it does not exist yet)."""
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


def max_overlap(intervals: Iterator[tuple[float, float]] | Sequence[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end before a start on ties)."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                    key=lambda e: (e[0], e[1]))
    open_now = best = 0
    for _, step in events:
        open_now += step
        best = max(best, open_now)
    return best


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):  # gone, even while read
        return False


def wait_until(predicate, timeout: float = 20.0, message: str = "") -> None:  # type: ignore[no-untyped-def]
    """Assert that ``predicate`` becomes true within ``timeout`` seconds."""
    assert wait_for(predicate, timeout), message or "condition not reached in time"
