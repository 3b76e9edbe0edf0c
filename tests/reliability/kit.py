"""Workloads and probes for reliability runs: gated tasks, exactly-once checks, /proc samples.

Used by the CI tests of ``tests/reliability`` and by the long runs of ``tests/soak``.

Rules:
- A :class:`Workload` owns one workflow (``gated`` by default) and the node's subdirectory of
  that name: one task per instance, given a number ``n``. The task appends ``start n`` to
  ``<dir>/runs`` when it starts, waits until the file ``<dir>/gates/n`` exists (polling every
  0.1 s), sleeps the number of seconds the gate holds (if any), prints ``out-n`` and appends
  ``end n``. Tests open gates when they want a task to end; soak runs open every gate with a
  delay before launching, so nothing polls.
- :meth:`Workload.verify` is the exactly-once check: every instance TERMINATED with no error,
  its task's output ``out-n``, every ``n`` started exactly once and ended exactly once.
- Engine probes read ``/proc``: open descriptors, resident memory, the forker and monitors.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evqueue.client.sync import Client
from evqueue.protocol import ApiError
from tests.e2e.nodes import Node, wait_for

__all__ = ["GATED", "ProcessSample", "Workload", "admin", "sample", "store_rows"]

GATED = """#!/bin/sh
echo "start $1" >> {runs}
gate={gates}/$1
while [ ! -e "$gate" ]; do sleep 0.1; done
delay=$(cat "$gate")
if [ -n "$delay" ]; then sleep "$delay"; fi
echo "out-$1"
echo "end $1" >> {runs}
"""

# No whitespace inside <input>: it is mixed content, and would become part of the argument.
_WORKFLOW = ("<workflow><parameters><parameter name='n'/></parameters><subjobs><job name='j'>"
             "<tasks><task name='t' path='{path}' queue='{queue}'><input><value select="
             "\"evqGetWorkflowParameter('n')\"/></input></task></tasks></job></subjobs>"
             "</workflow>")


def admin(node: Node, timeout: float = 60) -> Client:
    """A client logged in as admin on the node's unix socket."""
    return Client(f"unix://{node.socket_path}", "admin", "admin", timeout=timeout).connect()


def store_rows(node: Node, sql: str, args: Iterable[object] = ()) -> list[tuple[object, ...]]:
    """Rows of a read-only query on the node's SQLite store."""
    path = Path(node.directory) / "evqueue.db"
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        return db.execute(sql, tuple(args)).fetchall()


@dataclass(frozen=True)
class ProcessSample:
    """What ``/proc`` says about one process."""

    fds: int
    rss_kb: int
    threads: int


def sample(pid: int) -> ProcessSample:
    """Open descriptors, resident memory (KiB) and threads of ``pid``."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return ProcessSample(fds, int(fields["VmRSS"].split()[0]), int(fields["Threads"]))


class Workload:
    """Gated one-task instances on ``node`` (see the module rules).

    Args:
        node: the node.
        name: the workflow's name, and the node's subdirectory that holds the script,
            ``runs`` and ``gates`` (several workloads may share a node).
        queue: the queue the task runs in (created with ``concurrency``).
        concurrency: tasks of this workload running at once.
    """

    def __init__(self, node: Node, *, name: str = "gated", queue: str = "gated",
                 concurrency: int = 10) -> None:
        self.node = node
        self.name = name
        self.queue = queue
        self.concurrency = concurrency
        directory = Path(node.directory) / name
        self.runs = directory / "runs"
        self.gates = directory / "gates"
        self.gates.mkdir(parents=True, exist_ok=True)
        self.script = directory / "gated.sh"
        self.script.write_text(GATED.format(runs=self.runs, gates=self.gates))
        self.script.chmod(0o755)
        self.instances: dict[int, int] = {}  # n -> instance id

    def install(self, client: Client) -> None:
        """Create the queue and the workflow."""
        client.exec(f"<queue action='create' name='{self.queue}' "
                    f"concurrency='{self.concurrency}' scheduler='fifo' dynamic='no'/>")
        content = base64.b64encode(_WORKFLOW.format(path=self.script,
                                                    queue=self.queue).encode()).decode()
        client.exec(f"<workflow action='create' name='{self.name}' content='{content}'/>")

    def launch(self, client: Client, numbers: Iterable[int]) -> None:
        """Launch one instance per number (asynchronously)."""
        for n in numbers:
            answer = client.exec(f"<instance action='launch' name='{self.name}'>"
                                 f"<parameter name='n' value='{n}'/></instance>")
            self.instances[n] = int(answer.get("workflow-instance-id"))

    def open(self, numbers: Iterable[int], delay: float | None = None) -> None:
        """Let these tasks end (after ``delay`` seconds, when given)."""
        for n in numbers:
            path = self.gates / str(n)
            path.write_text("" if delay is None else f"{delay:.2f}")

    def release_all(self) -> None:
        """Open every gate, so that no task is left waiting (tasks outlive their engine)."""
        self.open(n for n in self.instances if not (self.gates / str(n)).exists())

    def events(self) -> Counter[tuple[str, int]]:
        """How many times each ``(start|end, n)`` happened."""
        try:
            lines = self.runs.read_text().split("\n")
        except FileNotFoundError:
            return Counter()
        words = [line.split() for line in lines]
        return Counter((w[0], int(w[1])) for w in words if len(w) >= 2 and w[1].isdigit())

    def started(self) -> set[int]:
        """The numbers whose task has started (at least once)."""
        return {n for kind, n in self.events() if kind == "start"}

    def ended(self) -> set[int]:
        """The numbers whose task has ended (at least once)."""
        return {n for kind, n in self.events() if kind == "end"}

    def wait_started(self, count: int, timeout: float = 60) -> None:
        """Wait until ``count`` tasks have started."""
        assert wait_for(lambda: len(self.started()) >= count, timeout), (
            f"{len(self.started())} tasks started, expected {count}")

    def finished(self) -> set[int]:
        """The numbers whose instance is TERMINATED in the store (asked through the API, so
        any backend will do)."""
        if not self.instances:
            return set()
        by_id = {i: n for n, i in self.instances.items()}
        with admin(self.node) as client:
            rows = client.exec(f"<instances action='list' filter_workflow='{self.name}' "
                               "filter_status='TERMINATED' limit='1000000'/>")
        return {by_id[int(row.get("id"))] for row in rows if int(row.get("id")) in by_id}

    def recorded(self) -> set[int]:
        """The numbers whose stored savepoint knows that their task started (it holds the
        task's ``tid``), or whose instance is TERMINATED (SQLite stores only)."""
        if not self.instances:
            return set()
        by_id = {i: n for n, i in self.instances.items()}
        rows = store_rows(self.node, "SELECT workflow_instance_id FROM t_workflow_instance "
                          "WHERE workflow_instance_status = 'TERMINATED' "
                          "OR workflow_instance_savepoint LIKE '%tid=\"%'")
        return {by_id[row[0]] for row in rows if row[0] in by_id}

    def wait_recorded(self, timeout: float = 30) -> None:
        """Wait until every started task is known to the store (see :meth:`recorded`)."""
        assert wait_for(lambda: self.started() <= self.recorded(), timeout), (
            f"started but not recorded: {sorted(self.started() - self.recorded())}")

    def wait_finished(self, timeout: float = 120) -> None:
        """Wait until every launched instance is TERMINATED in the store."""
        assert wait_for(lambda: len(self.finished()) == len(self.instances), timeout), (
            f"{len(self.finished())}/{len(self.instances)} instances ended; "
            f"missing {sorted(set(self.instances) - self.finished())[:20]}")

    def verify(self, client: Client) -> list[str]:
        """The exactly-once check; returns the problems found (empty when all is well)."""
        problems = []
        events = self.events()
        for n, instance_id in sorted(self.instances.items()):
            starts, ends = events[("start", n)], events[("end", n)]
            if (starts, ends) != (1, 1):
                problems.append(f"n={n} (instance {instance_id}) started {starts}x, "
                                f"ended {ends}x")
            problems += self._check_instance(client, n, instance_id)
        return problems

    def _check_instance(self, client: Client, n: int, instance_id: int) -> list[str]:
        try:
            xml = client.exec(f"<instance action='query' id='{instance_id}'/>")
        except ApiError as error:
            return [f"n={n}: instance {instance_id}: {error.message}"]
        if len(xml) == 0:
            return [f"n={n}: instance {instance_id} has no stored document"]
        root = xml[0]
        task = root.find(".//task")
        output = task.find("output") if task is not None else None
        got = (root.get("status"), root.get("errors"),
               task.get("retval") if task is not None else None,
               (output.text or "").strip() if output is not None else None)
        if got != ("TERMINATED", "0", "0", f"out-{n}"):
            return [f"n={n}: instance {instance_id}: status, errors, retval, output = {got}"]
        return []
