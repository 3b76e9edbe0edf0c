"""Resource limits of a real node: output kept, instances at once, message size, no leaks.

Memory is read from ``/proc/<engine>/status`` (VmRSS) while the load runs, in a sampling
thread, so a peak between two requests is seen too.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evqueue.protocol import ApiError, UnknownInstance
from tests.e2e.apiwire import Wire
from tests.e2e.nodes import Node, wait_for
from tests.reliability.kit import Workload, admin, sample
from tests.security.kit import b64

MB = 1024 * 1024


class Peak:
    """The highest resident memory (KiB) of a process while the ``with`` block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = sample(pid).rss_kb
        self.highest = self.before
        self._stop = threading.Event()

    @property
    def growth_mb(self) -> float:
        return (self.highest - self.before) / 1024

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self.highest = max(self.highest, sample(self.pid).rss_kb)


@contextmanager
def peak_rss(pid: int) -> Iterator[Peak]:
    peak = Peak(pid)
    thread = threading.Thread(target=peak._run, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        peak._stop.set()
        thread.join()
        peak.highest = max(peak.highest, sample(pid).rss_kb)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("limits"), settings={
        "datastore.db.maxsize": "2M",
        "workflowinstance.max": "30",
        "network.message.maxsize": "1M",
        "gc.enable": "no",
    }).start()
    try:
        yield node
    finally:
        node.stop()
        node.remove_ipc_queue()


def engine_pid(node: Node) -> int:
    assert node.process is not None
    return node.process.pid


def run(client, name: str, timeout: int = 120):  # type: ignore[no-untyped-def]
    answer = client.exec(f"<instance action='launch' name='{name}' mode='synchronous'"
                         f" timeout='{timeout}'/>")
    assert answer.get("wait") is None, "timed out"
    return client.exec(f"<instance action='query' id='{answer.get('workflow-instance-id')}'/>")[0]


def test_a_task_printing_100_mb_keeps_the_engine_small_and_is_truncated(node):
    flood = ("<workflow><subjobs><job><tasks><task name='flood' queue='default' "
             "path='/bin/sh'><input>-c</input><input>head -c 104857600 /dev/zero | tr "
             "'\\000' x</input></task></tasks></job></subjobs></workflow>")
    with admin(node) as client:
        client.exec(f"<workflow action='create' name='flood' content='{b64(flood)}'/>")
        with peak_rss(engine_pid(node)) as peak:
            instance = run(client, "flood")
        output = instance.find(".//task/output")
        assert (instance.get("status"), output.get("retval")) == ("TERMINATED", "0")
        entry = client.exec(f"<datastore action='get' id='{output.get('datastore-id')}'/>")
    text = gzip.decompress(base64.b64decode(entry.text)).decode()
    assert text == "x" * (2 * MB) + "...TRUNCATED..."
    print(f"100 MB of output: the engine grew by {peak.growth_mb:.1f} MB at most")
    assert peak.growth_mb < 48, f"the engine grew by {peak.growth_mb:.0f} MB"
    assert not list(Path(node.directory).glob("*.stdout")), "output files are deleted"


def test_launches_past_workflowinstance_max_are_refused_clearly(node):
    work = Workload(node, queue="capped", concurrency=40)
    try:
        with admin(node) as client:
            work.install(client)
            work.launch(client, range(30))
            with pytest.raises(ApiError) as refused:
                work.launch(client, [30])
            assert refused.value.code == "MAX_INSTANCES_REACHED"
            assert "workflowinstance.max" in refused.value.message
            work.open([0])
            assert wait_for(lambda: 0 in work.finished(), 30)
            work.launch(client, [31])  # room again
            work.open(range(32))
            work.wait_finished()
    finally:
        work.release_all()


def test_an_endless_message_is_cut_without_growing_the_engine(node):
    with Wire(node, "unix") as bystander, Wire(node, "tcp") as flooder:
        bystander.login()
        flooder.login()
        with peak_rss(engine_pid(node)) as peak:
            flooder.send(b"<ping a='")
            chunk = b"x" * MB
            try:
                for _ in range(64):
                    flooder.sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # cut off, as expected
            try:
                reply = flooder.message()
                assert b"Message too large (limit is 1048576 bytes)" in reply
            except ConnectionResetError:
                pass  # the refusal was sent, but the reset of the unread bytes came first
        bystander.send("<ping/>\n")
        assert b'status="OK"' in bystander.message()
    print(f"64 MB message: the engine grew by {peak.growth_mb:.1f} MB at most")
    assert peak.growth_mb < 24, f"the engine grew by {peak.growth_mb:.0f} MB"


def test_a_message_of_tiny_elements_is_cut_without_growing_the_engine(node):
    with Wire(node, "unix") as wire:
        wire.login()
        with peak_rss(engine_pid(node)) as peak:
            try:
                wire.send(b"<ping>" + b"<a/>" * 250_000 + b"</ping>")  # 1 MB, the limit
            except (BrokenPipeError, ConnectionResetError):
                pass
            reply = wire.message()
        assert b"more than 100000 tags in one message" in reply
    print(f"250,000 elements: the engine grew by {peak.growth_mb:.1f} MB at most")
    assert peak.growth_mb < 100, f"the engine grew by {peak.growth_mb:.0f} MB"


LOOP = ("<workflow><subjobs><job name='list'><tasks><task name='items' queue='default' "
        "path='/bin/sh' output-method='XML'><input>-c</input><input>printf '&lt;l&gt;'; i=0; "
        "while [ $i -lt 100 ]; do printf '&lt;i/&gt;'; i=$((i+1)); done; printf '&lt;/l&gt;'"
        "</input></task></tasks><subjobs><job name='each' loop=\"evqGetOutput('items')/l/i\">"
        "<tasks><task name='t' queue='wide' path='/bin/true'/></tasks></job></subjobs></job>"
        "</subjobs></workflow>")


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_two_thousand_tasks_leak_no_descriptor_and_little_memory(node):
    pid = engine_pid(node)
    forker = int((Path(node.directory) / "forker.pid").read_text())
    with admin(node) as client:
        client.exec("<queue action='create' name='wide' concurrency='16' scheduler='fifo'"
                    " dynamic='no'/>")
        client.exec(f"<workflow action='create' name='loop' content='{b64(LOOP)}'/>")
        assert run(client, "loop").get("errors") == "0"  # warm-up: 101 tasks
        before, forker_before = sample(pid), sample(forker)
        start = time.monotonic()
        ids = [client.exec("<instance action='launch' name='loop'/>").get("workflow-instance-id")
               for _ in range(19)]
        for instance_id in ids:
            with contextlib.suppress(UnknownInstance):  # already ended
                client.exec(f"<instance action='wait' id='{instance_id}' timeout='120'/>")
        took = time.monotonic() - start
        errors = [client.exec(f"<instance action='query' id='{i}'/>")[0].get("errors")
                  for i in ids]
    assert errors == ["0"] * 19
    assert wait_for(lambda: sample(pid).fds <= before.fds + 2, 10), (before, sample(pid))
    after = sample(pid)
    assert after.threads <= before.threads + 1
    assert (after.rss_kb - before.rss_kb) / 1024 < 32, (before, after)
    assert sample(forker).fds <= forker_before.fds
    assert wait_for(lambda: _children(forker) == [], 10), "monitors left behind"
    assert task_files(node) == [], "every task's files go once its result is stored"
    print(f"1919 tasks in {took:.1f}s; engine {before} -> {after}")


def task_files(node) -> list[str]:  # type: ignore[no-untyped-def]
    """The per-task files (output and status) of the node left in its logs directory."""
    suffixes = (".stdout", ".stderr", ".log", ".status")
    return sorted(p.name for p in Path(node.directory).glob(f"{node.name}-*")
                  if p.suffix in suffixes)


def test_the_node_is_still_fine(node):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(node.socket_path)
    assert node.process is not None and node.process.poll() is None
