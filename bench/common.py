"""What every benchmark shares: real nodes in temporary directories, a lean API client,
scratch databases, the raw floors, and how figures are kept and printed.

Rules:
- A benchmark starts real engines (``python -m evqueue --config …``) through
  :class:`tests.e2e.nodes.Node`, each in its own temporary directory with its own IPC queue,
  and stops them (and removes their queues and scratch databases) whatever happens.
- The client on the measured path is :class:`Wire`: a raw socket, the login handshake and
  nothing else, so the client costs as little as possible; responses are counted by their
  newline and checked for ``status="OK"``; the server's keepalive pings are skipped.
- Every figure is a :class:`Figure`: the best of several runs (the machine may be shared),
  every run's value (the spread), and the floor measured in the same process run, so the
  figure reads as a ratio to what the machine can do at all.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e.nodes import Node  # noqa: E402

from evqueue.process.leftovers import children  # noqa: E402
from evqueue.protocol.connstr import Address, TcpAddress, UnixAddress  # noqa: E402

__all__ = [
    "PG_ADMIN",
    "MARIADB_ADMIN",
    "ApiHelpers",
    "BenchNode",
    "Figure",
    "Wire",
    "backend_available",
    "best_of",
    "cpu_seconds",
    "tree_cpu_seconds",
    "one_task_workflow",
    "print_table",
    "running_node",
    "scratch_database",
    "temp_directory",
]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN = "mariadb://root@127.0.0.1:3306"
OK = b'status="OK"'
PING = b"<ping"


# -- figures -------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure.

    ``value`` is the best run (highest for rates, lowest for times: ``higher_is_better``),
    ``runs`` all of them; ``floor`` is the raw machine figure of the same kind measured in the
    same run, ``target`` the goal (a rate to reach or a time to stay under).
    """

    bench: str
    name: str
    unit: str
    runs: list[float]
    higher_is_better: bool = True
    floor: float | None = None
    floor_name: str = ""
    target: float | None = None
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    peer_runs: list[float] = field(default_factory=list)

    @property
    def value(self) -> float:
        """The best run."""
        if not self.runs:
            return float("nan")
        return max(self.runs) if self.higher_is_better else min(self.runs)

    @property
    def spread(self) -> str:
        """The range of the runs, e.g. ``410–455``."""
        if len(self.runs) < 2:
            return ""
        return f"{_fmt(min(self.runs))}–{_fmt(max(self.runs))}"

    @property
    def ratio(self) -> float | None:
        """The best run over the floor (both as rates or both as times)."""
        if self.floor is None or not self.floor or not self.runs:
            return None
        return self.value / self.floor

    @property
    def peer(self) -> float | None:
        """The peer's best run of the same workload (None without a peer)."""
        if not self.peer_runs:
            return None
        return max(self.peer_runs) if self.higher_is_better else min(self.peer_runs)

    @property
    def peer_ratio(self) -> float | None:
        """evqueue / peer, both best runs: above 1 evqueue is ahead on a rate, behind on a
        time."""
        peer = self.peer
        if not peer or not self.runs:
            return None
        return self.value / peer

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None when there is none)."""
        if self.target is None or not self.runs:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def json_line(self) -> str:
        """The figure as one JSON line."""
        data = asdict(self)
        data.update(value=self.value, ratio=self.ratio, met=self.met, peer=self.peer,
                    peer_ratio=self.peer_ratio)
        return json.dumps(data, sort_keys=True, default=str)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value != value:  # NaN
        return "-"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def print_table(figures: Sequence[Figure], out=sys.stdout) -> None:  # type: ignore[no-untyped-def]
    """Print a table of figures, then one JSON line per figure.

    When a peer was measured, two more columns: the peer's best run of the same workload and
    evqueue / peer.
    """
    with_peer = any(f.peer_runs for f in figures)
    head: tuple[str, ...] = ("bench", "figure", "best", "unit", "runs", "floor", "ratio",
                             "target", "met")
    if with_peer:
        head += ("peer", "evqueue/peer")
    rows = [head]
    for f in figures:
        target = "" if f.target is None else ("≥ " if f.higher_is_better else "≤ ") + _fmt(
            f.target)
        met = {None: "", True: "yes", False: "NO"}[f.met]
        ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
        floor = "" if f.floor is None else f"{_fmt(f.floor)} ({f.floor_name})"
        row: tuple[str, ...] = (f.bench, f.name, _fmt(f.value), f.unit, f.spread, floor, ratio,
                                target, met)
        if with_peer:
            row += (_fmt(f.peer), "" if f.peer_ratio is None else f"{f.peer_ratio:.2f}")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
    for index, row in enumerate(rows):
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip(),
              file=out)
        if index == 0:
            print("  ".join("-" * w for w in widths), file=out)
    for f in figures:
        if f.note:
            print(f"note {f.bench} {f.name}: {f.note}", file=out)
    for f in figures:
        print(f.json_line(), file=out)
    out.flush()


def best_of(runs: int, measure: Callable[[], float]) -> list[float]:
    """Call ``measure`` ``runs`` times; return every value."""
    return [measure() for _ in range(runs)]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    """The median of ``values``."""
    return statistics.median(values)


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time (user + system) of ``pid``; with ``children``, that of its reaped children."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    first = 13 if children else 11  # cutime/cstime or utime/stime, after "state"
    return (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and of all its descendants, running (own and reaped children) or
    reaped: the forker's, with the monitors that are still running tasks or waiting for one."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current) + cpu_seconds(current, children=True)
        except (OSError, IndexError):
            continue  # gone meanwhile: counted in its parent's reaped children
        todo += children(current)
    return total


# -- places --------------------------------------------------------------------------------


@contextlib.contextmanager
def temp_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=f"evqbench-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def backend_available(backend: str) -> str:
    """"" when ``backend`` answers on this machine, else the reason it does not."""
    if backend == "sqlite":
        return ""
    port = 5432 if backend == "postgresql" else 3306
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError as exc:
        return f"{backend} not reachable on 127.0.0.1:{port}: {exc}"
    return ""


@contextlib.contextmanager
def scratch_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new empty database on ``backend``, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'evqueue.db'}"
        return
    name = f"evq_bench_{uuid.uuid4().hex[:12]}"
    if backend == "postgresql":
        _psql(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    _mariadb(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield f"mariadb://root@127.0.0.1:3306/{name}"
    finally:
        _mariadb(f"DROP DATABASE IF EXISTS `{name}`")


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc", sql],
                   check=True, capture_output=True)


def _mariadb(sql: str) -> None:
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-u", "root", "-e", sql], check=True,
                   capture_output=True)


# -- the client ----------------------------------------------------------------------------


class Wire:
    """A raw API connection, logged in (``admin``/``admin`` unless told otherwise).

    ``target`` is a node (``transport`` says which of its listeners) or an address
    (``tcp://`` or ``unix://``, e.g. an evQueue peer's). A server with authentication
    disabled greets with ``<ready>`` at once and is not sent a login.
    """

    def __init__(self, target: Node | Address, transport: str = "unix",
                 timeout: float = 120.0, *, user: str = "admin",
                 password: str = "admin") -> None:
        if isinstance(target, Node):
            target = (TcpAddress("127.0.0.1", target.api_port) if transport == "tcp"
                      else UnixAddress(target.socket_path))
        if isinstance(target, TcpAddress):
            self.sock = socket.create_connection((target.host, target.port), timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(target.path)
        self.buffer = b""
        greeting = self._line()
        if greeting.startswith(b"<ready"):
            return
        challenge = greeting.split(b'challenge="', 1)[1].split(b'"', 1)[0].decode()
        key = hashlib.sha1(password.encode()).digest()
        answer = hmac.new(key, bytes.fromhex(challenge), hashlib.sha1).hexdigest()
        self.sock.sendall(f"<auth response='{answer}' user='{user}'/>".encode())
        if OK not in self._line():
            raise RuntimeError(f"login refused to {user!r}")

    def _line(self) -> bytes:
        """The next message: up to a newline that follows the end of a root element (text
        inside a message, a task's stderr for instance, may hold newlines of its own)."""
        start = 0
        while True:
            end = self.buffer.find(b"\n", start)
            if end < 0:
                data = self.sock.recv(1 << 20)
                if not data:
                    raise ConnectionError("closed by the node")
                self.buffer += data
                continue
            if self.buffer[:end].endswith((b"/>", b"</response>", b"</ready>")):
                line, self.buffer = self.buffer[:end], self.buffer[end + 1:]
                return line
            start = end + 1

    def response(self) -> bytes:
        """The next response, keepalive pings skipped."""
        while True:
            line = self._line()
            if not (line.startswith(PING) and b"status" not in line):
                return line

    def call(self, request: bytes | str) -> bytes:
        """Send one request; return its response (raises on KO)."""
        self.sock.sendall(request.encode() if isinstance(request, str) else request)
        line = self.response()
        if OK not in line:
            raise RuntimeError(f"{request!r} -> {line[:300]!r}")
        return line

    def pipeline(self, request: bytes, count: int, window: int = 64) -> None:
        """Send ``request`` ``count`` times, keeping at most ``window`` unanswered."""
        sent = answered = 0
        while answered < count:
            burst = min(window - (sent - answered), count - sent)
            if burst > 0:
                self.sock.sendall(request * burst)
                sent += burst
            # One response (waiting for it if need be), then every one already received:
            # the next burst refills the window in one send.
            lines = [self.response()]
            while b"\n" in self.buffer and answered + len(lines) < count:
                line = self._line()
                if not (line.startswith(PING) and b"status" not in line):
                    lines.append(line)
            for line in lines:
                if OK not in line:
                    raise RuntimeError(f"{request!r} -> {line[:300]!r}")
            answered += len(lines)

    def close(self) -> None:
        """Say goodbye and close."""
        with contextlib.suppress(OSError):
            self.sock.sendall(b"<quit/>")
        self.sock.close()


# -- nodes ---------------------------------------------------------------------------------


def one_task_workflow(path: str = "/bin/true", queue: str = "q") -> str:
    """A workflow of one job of one task."""
    return (f"<workflow><subjobs><job name='j'><tasks><task name='t' path='{path}' "
            f"queue='{queue}'/></tasks></job></subjobs></workflow>")


class ApiHelpers:
    """What a benchmark asks of a node through its API (a :class:`BenchNode` or a peer):
    ``wire`` is its cached admin connection."""

    wire: Wire

    def connect(self) -> Wire:
        """A new admin connection (the cached one is ``wire``)."""
        raise NotImplementedError

    def queue(self, name: str, concurrency: int) -> None:
        """Create a fifo queue."""
        self.wire.call(f"<queue action='create' name='{name}' concurrency='{concurrency}' "
                       f"scheduler='fifo' dynamic='no'/>")

    def workflow(self, name: str, xml: str) -> None:
        """Create a workflow."""
        content = base64.b64encode(xml.encode()).decode()
        self.wire.call(f"<workflow action='create' name='{name}' content='{content}'/>")

    def running(self) -> int:
        """How many instances run on the node."""
        line = self.wire.call(b"<status action='query' type='workflows' limit='1'/>")
        return int(line.split(b'count="', 1)[1].split(b'"', 1)[0])

    def wait_idle(self, timeout: float = 600, interval: float = 0.01) -> None:
        """Poll until no instance runs."""
        deadline = time.monotonic() + timeout
        while self.running():
            if time.monotonic() > deadline:
                raise TimeoutError("instances still running")
            time.sleep(interval)


class BenchNode(ApiHelpers, Node):
    """A node for benchmarks: quiet logs, a lean admin client, helpers to define things."""

    def __init__(self, directory: Path, *, db_url: str | None = None,
                 settings: dict[str, str] | None = None, name: str = "bench") -> None:
        values = {
            "logger.db.enable": "no",
            "loggerapi.enable": "no",
            "gc.enable": "no",
            "processmanager.tasks.directory": str(directory),
        }
        values.update(settings or {})
        super().__init__(directory, name=name, db_url=db_url, settings=values)
        self.db_url = db_url or f"sqlite:///{directory / 'evqueue.db'}"
        self._wire: Wire | None = None

    def start(self, timeout: float = 120.0) -> BenchNode:
        """Start the engine and wait until it serves (a loaded machine may take long)."""
        self.log = open(self.directory / "engine.log", "ab")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(self.command(), stdout=self.log,
                                        stderr=subprocess.STDOUT, cwd=self.directory)
        deadline = time.monotonic() + timeout
        while not self.serving():
            if self.process.poll() is not None:
                raise RuntimeError(f"node exited {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"node did not start:\n{self.output()}")
            time.sleep(0.01)
        self.ready_at = time.perf_counter()
        return self

    @property
    def wire(self) -> Wire:
        """A cached admin connection on the unix socket."""
        if self._wire is None:
            self._wire = Wire(self)
        return self._wire

    def connect(self) -> Wire:
        """A new admin connection on the unix socket."""
        return Wire(self)

    def close(self) -> None:
        """Stop the node (SIGTERM) and remove its IPC queue."""
        if self._wire is not None:
            with contextlib.suppress(OSError):
                self._wire.close()
            self._wire = None
        try:
            if self.process is not None:
                self.stop()
        finally:
            self.remove_ipc_queue()

    def forget_connection(self) -> None:
        """Drop the cached connection (after the engine died)."""
        if self._wire is not None:
            with contextlib.suppress(OSError):
                self._wire.sock.close()
            self._wire = None

    def task_script(self, name: str, body: str, shell: str = "/bin/sh") -> str:
        """Write an executable script in the node's directory; return its path."""
        path = self.directory / name
        path.write_text(f"#!{shell}\n{body.strip()}\n")
        path.chmod(0o755)
        return str(path)


@contextlib.contextmanager
def running_node(prefix: str, *, backend: str = "sqlite",
                 settings: dict[str, str] | None = None) -> Iterator[BenchNode]:
    """A started :class:`BenchNode` on a scratch database of ``backend``."""
    with temp_directory(prefix) as directory, scratch_database(backend, directory) as url:
        node = BenchNode(directory, db_url=url, settings=settings)
        try:
            node.start()
            yield node
        finally:
            node.close()
