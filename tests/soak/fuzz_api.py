"""Long fuzzing run of the XML API: 100,000 inputs per phase by default.

Phases (``--phases``, all by default):

- ``reader``: the stream reader alone (sans I/O), every input fed whole and cut at random
  places: only commands or a fatal protocol error may come out, the same commands and a
  refusal or not whatever the cuts (the refusal's wording may differ, counted apart);
- ``wire``: every input sent on a fresh connection to a real node (half of them after login,
  half instead of the login), then a half-close: the node must answer with well-formed
  responses and close, within ``--deadline`` seconds; a logged-in bystander is pinged after
  every 100 inputs and must answer;
- ``commands``: random attributes on every (group, action) the node serves, over logged-in
  admin connections: each gets OK or a KO with a message, never an internal error, and the
  connection stays open.

Inputs are rebuilt from their seed (``tests/security/fuzzdata.py``); failures are printed with
it. Exit status 1 when anything failed.

Example::

    python -m tests.soak.fuzz_api --count 100000 --workers 4 --json fuzz.json
"""

from __future__ import annotations

import argparse
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from lxml import etree

from evqueue.protocol import ApiError, Command
from tests.e2e.apiwire import Wire
from tests.e2e.nodes import Node
from tests.reliability.kit import sample
from tests.security.fuzzdata import ATTRIBUTE_NAMES, attribute_value, fuzz_input
from tests.security.kit import client, served_routes
from tests.security.test_fuzz_api import EXCLUDED
from tests.security.test_fuzz_reader import cut, run
from tests.soak.common import add_common_arguments, report, soak_node

__all__ = ["main"]


class Tally:
    """Thread-safe counters and the first failures."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.failures: list[str] = []
        self.slowest = 0.0
        self._lock = threading.Lock()

    def add(self, key: str, failure: str | None = None, took: float = 0.0) -> None:
        with self._lock:
            self.counts[key] += 1
            self.slowest = max(self.slowest, took)
            if failure is not None and len(self.failures) < 50:
                self.failures.append(failure)


def reader_phase(seeds: range, tally: Tally) -> None:
    for seed in seeds:
        rng = random.Random(seed)
        data = fuzz_input(rng)
        start = time.monotonic()
        try:
            whole = run([data])
            pieces = run(cut(data, rng))
        except Exception as exc:  # any escape is a failure of the reader
            tally.add("crash", f"seed {seed}: {type(exc).__name__}: {exc}")
            continue
        took = time.monotonic() - start
        if (pieces[0], pieces[1] is None) != (whole[0], whole[1] is None):
            tally.add("cut-dependent", f"seed {seed}: {whole!r:.200} != {pieces!r:.200}", took)
        else:
            if pieces != whole:  # refused both ways, in other words
                tally.add("refusal worded by the cuts")
            tally.add("refused" if whole[1] else "read", None, took)


def _exchange(node: Node, data: bytes, login: bool, deadline: float) -> tuple[str, str | None]:
    """Send one input on a fresh connection; (outcome, failure)."""
    transport = "unix" if login else "tcp"
    with Wire(node, transport, timeout=deadline) as wire:
        if login:
            wire.login()
        else:
            wire.challenge()
        try:
            wire.sock.sendall(data)
            wire.sock.shutdown(socket.SHUT_WR)
        except OSError:  # BrokenPipe, ConnectionReset, ENOTCONN: the node closed first
            pass
        answers = 0
        while True:
            try:
                line = wire.message()
            except ConnectionResetError:
                break
            except ConnectionError:
                if wire.buffer:
                    return "broken", f"closed mid-message: {wire.buffer[:100]!r}"
                break
            root = etree.fromstring(line)
            if root.tag != "response" or root.get("status") not in ("OK", "KO"):
                return "broken", f"not a response: {line[:200]!r}"
            if (root.get("error") or "").startswith("Internal error"):
                return "broken", f"internal error: {root.get('error')}"
            answers += 1
        return ("answered" if answers else "closed"), None


def wire_phase(node: Node, seeds: range, workers: int, deadline: float, tally: Tally) -> None:
    bystander = Wire(node, "unix", timeout=deadline)
    bystander.login()

    def one(seed: int) -> None:
        data = fuzz_input(random.Random(seed))
        start = time.monotonic()
        try:
            outcome, failure = _exchange(node, data, seed % 2 == 0, deadline)
        except TimeoutError:
            outcome, failure = "hang", f"seed {seed}: no answer within {deadline}s"
        except OSError as exc:
            outcome, failure = "connect-error", f"seed {seed}: {exc}"
        if failure is not None and not failure.startswith("seed"):
            failure = f"seed {seed}: {failure}"
        tally.add(outcome, failure, time.monotonic() - start)

    try:
        with ThreadPoolExecutor(workers) as pool:
            for block in range(seeds.start, seeds.stop, 100):
                list(pool.map(one, range(block, min(block + 100, seeds.stop))))
                start = time.monotonic()
                bystander.send("<ping/>\n")
                if b'status="OK"' not in bystander.message():
                    tally.add("bystander-failed", f"after seed {block}")
                tally.counts["bystander-slowest-ms"] = max(
                    tally.counts["bystander-slowest-ms"],
                    int((time.monotonic() - start) * 1000))
    finally:
        bystander.close()


def _command(seed: int, routes: list[tuple[str, str | None]]) -> bytes:
    rng = random.Random(seed)
    group, action = rng.choice(routes)
    attrs = {name: attribute_value(rng)
             for name in rng.sample(ATTRIBUTE_NAMES, rng.randint(0, 6)) if name}
    if action is not None:
        attrs["action"] = action
    parameters = [(attribute_value(rng), attribute_value(rng)) for _ in range(rng.randint(0, 2))]
    return Command.build(group, attrs, parameters).serialize()


def commands_phase(node: Node, seeds: range, workers: int, tally: Tally) -> None:
    routes = [route for route in served_routes() if route not in EXCLUDED]
    shares = [range(seeds.start + i, seeds.stop, workers) for i in range(workers)]

    def worker(share: range) -> None:
        connection = client(node, transport="tcp")
        try:
            for seed in share:
                request = _command(seed, routes)
                start = time.monotonic()
                try:
                    connection.exec(request)
                    tally.add("ok", None, time.monotonic() - start)
                except ApiError as error:
                    bad = error.fatal or not error.message or error.message.startswith(
                        "Internal error")
                    tally.add("broken" if bad else "ko",
                              f"seed {seed}: {error.message} <- {request[:200]!r}" if bad
                              else None, time.monotonic() - start)
                except OSError as exc:
                    tally.add("connection-lost", f"seed {seed}: {exc} <- {request[:200]!r}")
                    connection = client(node, transport="tcp")
        finally:
            connection.close()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(worker, shares))


def _phase(name: str, work: Callable[[Tally], None], figures: dict[str, object]) -> bool:
    tally = Tally()
    start = time.monotonic()
    work(tally)
    took = time.monotonic() - start
    total = sum(v for k, v in tally.counts.items()
                if not k.startswith(("bystander", "refusal worded")))
    figures[f"{name}: inputs"] = total
    figures[f"{name}: seconds"] = round(took, 1)
    figures[f"{name}: slowest input (s)"] = round(tally.slowest, 3)
    for key, value in sorted(tally.counts.items()):
        figures[f"{name}: {key}"] = value
    for failure in tally.failures:
        print(f"FAILED {name}: {failure}", file=sys.stderr)
    return not tally.failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs per phase")
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument("--workers", type=int, default=4, help="parallel connections")
    parser.add_argument("--deadline", type=float, default=30.0,
                        help="seconds an input may take before it counts as a hang")
    parser.add_argument("--phases", default="reader,wire,commands",
                        help="comma-separated phases to run")
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    seeds = range(args.seed, args.seed + args.count)
    figures: dict[str, object] = {}
    ok = True
    if "reader" in phases:
        ok &= _phase("reader", lambda t: reader_phase(seeds, t), figures)
    if phases & {"wire", "commands"}:
        with soak_node(args.keep, settings={"network.message.maxsize": "4M",
                                            "network.connections.max": "64",
                                            "loggerapi.enable": "no"}) as node:
            assert node.process is not None
            before = sample(node.process.pid)
            if "wire" in phases:
                ok &= _phase("wire", lambda t: wire_phase(node, seeds, args.workers,
                                                           args.deadline, t), figures)
            if "commands" in phases:
                ok &= _phase("commands", lambda t: commands_phase(node, seeds, args.workers, t),
                             figures)
            after = sample(node.process.pid)
            alive = node.process.poll() is None
            crashes = node.output().count("Traceback")
            figures["engine alive at the end"] = alive
            figures["tracebacks in the engine log"] = crashes
            figures["engine fds before/after"] = f"{before.fds}/{after.fds}"
            figures["engine RSS MB before/after"] = (f"{before.rss_kb / 1024:.0f}/"
                                                     f"{after.rss_kb / 1024:.0f}")
            ok &= alive and crashes == 0
    report(f"XML API fuzzing, {args.count} inputs per phase", figures, args.json)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
