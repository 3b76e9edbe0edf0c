"""B5 API: pings, asynchronous launch acknowledgements and synchronous launch round trips,
over the unix socket and TCP, on one connection.

- ping round trip: one ``<ping/>`` at a time; pings/s: pipelined, 64 unanswered at most.
- async launches/s: ``instance launch`` of a one-task workflow, pipelined (64), counting
  acknowledgements (the instances run meanwhile on a queue of concurrency 16); and one at a
  time (the acknowledgement round trip).
- sync launch round trip: ``mode='synchronous'``, one at a time, median of N.
The floor is an asyncio echo server in a fresh interpreter answering one line per message.
"""

from __future__ import annotations

import argparse
import time

from common import Figure, Wire, median, one_task_workflow, print_table, running_node
from floors import echo_floor

__all__ = ["run"]

PING = b"<ping/>"
LAUNCH = b"<instance action='launch' name='w'/>"
SYNC = b"<instance action='launch' name='w' mode='synchronous'/>"


def _round_trips(wire: Wire, request: bytes, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        wire.call(request)
        times.append(time.perf_counter() - start)
    return times


def _rate(wire: Wire, request: bytes, count: int) -> float:
    start = time.perf_counter()
    wire.pipeline(request, count)
    return count / (time.perf_counter() - start)


def _transport(node, transport: str, scale: int, runs: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    wire = Wire(node, transport)
    try:
        results: dict[str, list[float]] = {k: [] for k in (
            "ping_rtt", "pings", "launch_rtt", "launches", "sync_rtt")}
        for _ in range(runs):
            results["ping_rtt"].append(median(_round_trips(wire, PING, 200 * scale)) * 1000)
            results["pings"].append(_rate(wire, PING, 2000 * scale))
            results["launch_rtt"].append(median(_round_trips(wire, LAUNCH, 50 * scale)) * 1000)
            node.wait_idle()
            results["launches"].append(_rate(wire, LAUNCH, 300 * scale))
            node.wait_idle()
            results["sync_rtt"].append(median(_round_trips(wire, SYNC, 30 * scale)) * 1000)
        return results
    finally:
        wire.close()


def run(quick: bool = False, runs: int = 3) -> list[Figure]:
    """B5 figures per transport."""
    scale = 1 if quick else 2
    figures: list[Figure] = []
    with running_node("b5") as node:
        node.queue("q", 16)
        node.workflow("w", one_task_workflow())
        node.wire.call(SYNC)  # warm-up
        for transport in ("unix", "tcp"):
            floor_rtt, floor_rate = echo_floor(transport, node.directory, 2000 * scale)
            r = _transport(node, transport, scale, runs)
            unix = transport == "unix"
            figures += [
                Figure("B5", f"ping round trip ({transport})", "ms", r["ping_rtt"],
                       higher_is_better=False, floor=floor_rtt * 1000,
                       floor_name="asyncio echo"),
                Figure("B5", f"pings/s pipelined ({transport})", "1/s", r["pings"],
                       floor=floor_rate, floor_name="asyncio echo",
                       target=10_000 if unix else None),
                Figure("B5", f"async launch ack round trip ({transport})", "ms",
                       r["launch_rtt"], higher_is_better=False),
                Figure("B5", f"async launch acks/s pipelined ({transport})", "1/s",
                       r["launches"], target=1500 if unix else None),
                Figure("B5", f"sync launch round trip ({transport})", "ms", r["sync_rtt"],
                       higher_is_better=False, target=4.0 if unix else None),
            ]
    return figures


def main() -> None:
    """``python bench/b5_api.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    args = parser.parse_args()
    print_table(run(args.quick, args.runs))


if __name__ == "__main__":
    main()
