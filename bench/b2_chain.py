"""B2 chain: one workflow of 40 sequential one-task (``/bin/true``) jobs.

The workflow is 40 nested jobs (each the only subjob of the previous one), launched
synchronously over the unix socket: the time is from the request to the response, which
comes once the instance is TERMINATED. The floor is 40 ``/bin/true`` spawned and reaped one
after the other from Python; the per-transition gap is (time − floor) / 40. The process
layer alone (the engine's ProcessManager, forker and monitor, without an engine) is timed
too, one task at a time. With a peer (``--peer``, see ``evqueue_peer.py``) the chain runs on
it too and its time is printed next to evqueue's at level 2, with the ratio.
"""

from __future__ import annotations

import argparse
import time

from common import Figure, print_table, running_node, temp_directory
from evqueue_peer import Peer, PeerNode, add_peer_arguments, peer_from_arguments
from floors import process_layer_round_trip, spawn_floor

__all__ = ["chain_workflow", "run"]

LENGTH = 40


def chain_workflow(length: int = LENGTH, path: str = "/bin/true", queue: str = "q") -> str:
    """``length`` jobs, each the subjob of the one before."""
    xml = ""
    for index in reversed(range(length)):
        inner = f"<subjobs>{xml}</subjobs>" if xml else ""
        xml = (f"<job name='j{index}'><tasks><task name='t{index}' path='{path}' "
               f"queue='{queue}'/></tasks>{inner}</job>")
    return f"<workflow><subjobs>{xml}</subjobs></workflow>"


def _chains(wire, workflow: str, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Seconds per synchronous launch of ``workflow``, after one warm-up."""
    request = f"<instance action='launch' name='{workflow}' mode='synchronous'/>".encode()
    wire.call(request)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        wire.call(request)
        times.append(time.perf_counter() - start)
    return times


def on_peer(peer: Peer, runs: int) -> list[float]:
    """The chain's times on the peer (on a queue of concurrency 1 of its own)."""
    node = PeerNode(peer)
    try:
        workflow = node.ensure_workflow(f"chain{LENGTH}", chain_workflow(
            queue=node.ensure_queue(1)))
        node.wait_idle()
        return _chains(node.wire, workflow, runs)
    finally:
        node.close()


def run(quick: bool = False, runs: int = 5, *, peer: Peer | None = None,
        tiny: bool = False) -> list[Figure]:
    """B2 figures: total time and per-transition gap; with ``peer``, its chain times next to
    evqueue's. ``tiny``: level 2 only and a short process-layer run (figures meaningless)."""
    floor = LENGTH / max(spawn_floor(100 if tiny else 300) for _ in range(2))
    with temp_directory("b2-process") as directory:
        layer = [process_layer_round_trip(directory, 10 if tiny else 100) * 1000
                 for _ in range(2)]
    peer_times = on_peer(peer, runs) if peer is not None else []
    level_times: dict[int, list[float]] = {}
    for level in (2,) if tiny else (2, 3):
        with running_node("b2", settings={"workflowinstance.savepoint.level": str(level)}
                          ) as node:
            node.queue("q", 1)
            node.workflow("chain", chain_workflow())
            level_times[level] = _chains(node.wire, "chain", runs)
    figures = [Figure("B2", "process layer round trip (no engine)", "ms", layer,
                      higher_is_better=False, floor=1000 * floor / LENGTH,
                      floor_name="one spawn",
                      note="ProcessManager → forker → monitor → /bin/true → SysV queue → "
                           "gatherer, one task at a time; the rest of a transition's gap is "
                           "the engine's")]
    for level, times in level_times.items():
        figures.append(Figure("B2", f"chain of {LENGTH}, level {level}", "s", times,
                              higher_is_better=False, floor=floor,
                              floor_name=f"{LENGTH} spawns", target=0.1 if level == 2 else None,
                              peer_runs=peer_times if level == 2 else []))
        gaps = [(t - floor) / LENGTH * 1000 for t in times]
        figures.append(Figure("B2", f"gap per transition, level {level}", "ms", gaps,
                              higher_is_better=False))
    return figures


def main() -> None:
    """``python bench/b2_chain.py [--quick] [--runs N]``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--tiny", action="store_true",
                        help="level 2 only: checks the benchmark works")
    parser.add_argument("--runs", type=int, default=5, help="chains per level")
    add_peer_arguments(parser)
    args = parser.parse_args()
    print_table(run(args.quick, args.runs, peer=peer_from_arguments(args), tiny=args.tiny))


if __name__ == "__main__":
    main()
