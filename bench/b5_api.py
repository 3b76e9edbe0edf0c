"""B5 API: pings, asynchronous launch acknowledgements and synchronous launch round trips,
over the unix socket and TCP, on one connection.

- ping round trip: one ``<ping/>`` at a time; pings/s: pipelined, 64 unanswered at most.
- async launches/s: ``instance launch`` of a one-task workflow, pipelined (64), counting
  acknowledgements (the instances run meanwhile on a queue of concurrency 16); and one at a
  time (the acknowledgement round trip).
- sync launch round trip: ``mode='synchronous'``, one at a time, median of N.
- ack round trip under load (unix, evqueue only): the async launch round trip, one at a time,
  while :data:`FLOODERS` other connections pipeline launches of the same workflow flat out.
The floor is an asyncio echo server in a fresh interpreter answering one line per message.
With a peer (``--peer``, see ``evqueue_peer.py``) the same requests run on it, over its own
transport, and are printed next to evqueue's over the same transport with the ratio.
"""

from __future__ import annotations

import argparse
import threading
import time

from common import (
    ApiHelpers,
    Figure,
    Wire,
    median,
    one_task_workflow,
    print_table,
    running_node,
)
from evqueue_peer import Peer, PeerNode, add_peer_arguments, peer_from_arguments
from floors import echo_floor

__all__ = ["run"]

PING = b"<ping/>"
KEYS = ("ping_rtt", "pings", "launch_rtt", "launches", "sync_rtt")
#: Connections launching flat out during the ack-under-load figure.
FLOODERS = 4


def _round_trips(wire: Wire, request: bytes, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        wire.call(request)
        times.append(time.perf_counter() - start)
    return times


def _ack_under_load(node: ApiHelpers, workflow: str, count: int) -> float:
    """Median round trip (ms) of ``count`` launches one at a time while :data:`FLOODERS`
    other connections pipeline launches of ``workflow`` (16 unanswered each)."""
    launch = f"<instance action='launch' name='{workflow}'/>".encode()
    stop = threading.Event()
    errors: list[BaseException] = []

    def flood() -> None:
        wire = node.connect()
        try:
            while not stop.is_set():
                wire.pipeline(launch, 64, 16)
        except BaseException as exc:  # reported below, in the caller's thread
            errors.append(exc)
        finally:
            wire.close()

    threads = [threading.Thread(target=flood) for _ in range(FLOODERS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)  # the flood under way
        wire = node.connect()
        try:
            times = _round_trips(wire, launch, count)
        finally:
            wire.close()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    node.wait_idle()
    if errors:
        raise errors[0]
    return median(times) * 1000


def _rate(wire: Wire, request: bytes, count: int) -> float:
    start = time.perf_counter()
    wire.pipeline(request, count)
    return count / (time.perf_counter() - start)


def _transport(node: ApiHelpers, wire: Wire, workflow: str, scale: float,
               runs: int) -> dict[str, list[float]]:
    """Every figure of :data:`KEYS`, ``runs`` times, on ``wire`` (closed afterwards)."""
    launch = f"<instance action='launch' name='{workflow}'/>".encode()
    sync = f"<instance action='launch' name='{workflow}' mode='synchronous'/>".encode()
    try:
        results: dict[str, list[float]] = {k: [] for k in KEYS}
        for _ in range(runs):
            results["ping_rtt"].append(
                median(_round_trips(wire, PING, round(200 * scale))) * 1000)
            results["pings"].append(_rate(wire, PING, round(2000 * scale)))
            results["launch_rtt"].append(
                median(_round_trips(wire, launch, round(50 * scale))) * 1000)
            node.wait_idle()
            results["launches"].append(_rate(wire, launch, round(300 * scale)))
            node.wait_idle()
            results["sync_rtt"].append(
                median(_round_trips(wire, sync, round(30 * scale))) * 1000)
        return results
    finally:
        wire.close()


def on_peer(peer: Peer, scale: float, runs: int) -> dict[str, list[float]]:
    """The same figures on the peer, over its own transport."""
    node = PeerNode(peer)
    try:
        workflow = node.ensure_workflow("one_q16", one_task_workflow(
            queue=node.ensure_queue(16)))
        node.wait_idle()
        node.wire.call(f"<instance action='launch' name='{workflow}' "
                       f"mode='synchronous'/>")  # warm-up
        return _transport(node, peer.connect(), workflow, scale, runs)
    finally:
        node.close()


def run(quick: bool = False, runs: int = 3, *, peer: Peer | None = None,
        tiny: bool = False) -> list[Figure]:
    """B5 figures per transport; with ``peer``, its figures over its transport next to
    evqueue's over the same. ``tiny``: a tenth of the requests (figures meaningless)."""
    scale = 0.1 if tiny else 1 if quick else 2
    peer_results = on_peer(peer, scale, runs) if peer is not None else {}
    figures: list[Figure] = []
    with running_node("b5") as node:
        node.queue("q", 16)
        node.workflow("w", one_task_workflow())
        node.wire.call(b"<instance action='launch' name='w' mode='synchronous'/>")  # warm-up
        for transport in ("unix", "tcp"):
            floor_rtt, floor_rate = echo_floor(transport, node.directory,
                                               round(2000 * scale))
            r = _transport(node, Wire(node, transport), "w", scale, runs)
            compared = peer is not None and peer.transport == transport
            p = {k: peer_results.get(k, []) if compared else [] for k in KEYS}
            unix = transport == "unix"
            figures += [
                Figure("B5", f"ping round trip ({transport})", "ms", r["ping_rtt"],
                       higher_is_better=False, floor=floor_rtt * 1000,
                       floor_name="asyncio echo", target=0.06 if unix else None,
                       peer_runs=p["ping_rtt"]),
                Figure("B5", f"pings/s pipelined ({transport})", "1/s", r["pings"],
                       floor=floor_rate, floor_name="asyncio echo",
                       target=40_000 if unix else None, peer_runs=p["pings"]),
                Figure("B5", f"async launch ack round trip ({transport})", "ms",
                       r["launch_rtt"], higher_is_better=False,
                       target=1.0 if unix else None, peer_runs=p["launch_rtt"]),
                Figure("B5", f"async launch acks/s pipelined ({transport})", "1/s",
                       r["launches"], target=2000 if unix else None,
                       peer_runs=p["launches"]),
                Figure("B5", f"sync launch round trip ({transport})", "ms", r["sync_rtt"],
                       higher_is_better=False, target=2.5 if unix else None,
                       peer_runs=p["sync_rtt"]),
            ]
        loaded = [_ack_under_load(node, "w", round(50 * scale)) for _ in range(runs)]
        figures.append(Figure(
            "B5", f"async launch ack round trip while {FLOODERS} clients launch (unix)", "ms",
            loaded, higher_is_better=False, target=2.0))
    if peer is not None:
        said = f"peer: {peer}, compared over {peer.transport}"
        figures[0].note = "; ".join(filter(None, [figures[0].note, said]))
    return figures


def main() -> None:
    """``python bench/b5_api.py [--quick] [--runs N] [--peer unix:///…]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--tiny", action="store_true",
                        help="a tenth of the requests: checks the benchmark works")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure")
    add_peer_arguments(parser)
    args = parser.parse_args()
    print_table(run(args.quick, args.runs, peer=peer_from_arguments(args), tiny=args.tiny))


if __name__ == "__main__":
    main()
