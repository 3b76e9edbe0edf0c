"""The benchmarks measured against an evQueue peer: a second evqueue node started here plays
the peer (the C++ evQueue is not installed), with the smallest workloads (``--tiny``).

What a user of ``bench/run.py --peer …`` sees: the same B1, B2 and B5 workloads run on the
peer, which is given the queues and workflows they need through its API, and the table
carries the peer's figure and the ratio evqueue / peer next to evqueue's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.enginekit import EngineNode, started

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("peer"), name="peer"))
    try:
        yield node
    finally:
        node.close()


def bench(*args: str, env: dict[str, str] | None = None) -> tuple[str, list[dict]]:
    """Run ``bench/run.py --tiny --runs 1 ARGS``; (the table, its JSON lines)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EVQUEUE_BENCH")}
    environment.update(env or {})
    done = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--tiny",
                           "--runs", "1", *args], capture_output=True, text=True,
                          timeout=300, env=environment, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    figures = [json.loads(line) for line in lines if line.startswith("{")]
    table = "\n".join(line for line in lines if not line.startswith("{"))
    return table, figures


def figure(figures: list[dict], bench_name: str, name: str) -> dict:
    return next(f for f in figures if f["bench"] == bench_name and f["name"] == name)


def workflow_names(node: EngineNode) -> set[str]:
    return {w.get("name") for w in node.exec("<workflows action='list'/>")}


def test_a_unix_peer_runs_b1_b2_b5_and_is_printed_with_the_ratio(peer: EngineNode) -> None:
    table, figures = bench("--only", "B1,B2,B5", "--peer", f"unix://{peer.socket_path}")

    header = table.splitlines()[[line.startswith("bench") for line in
                                 table.splitlines()].index(True)]
    assert header.split()[-2:] == ["peer", "evqueue/peer"]
    compared = [
        figure(figures, "B1", "sqlite level 2 concurrency 16"),
        figure(figures, "B1", "sqlite level 2 concurrency 16 4 clients"),
        figure(figures, "B2", "chain of 40, level 2"),
        figure(figures, "B5", "pings/s pipelined (unix)"),
        figure(figures, "B5", "sync launch round trip (unix)"),
    ]
    for f in compared:
        assert f["peer"] > 0, f
        assert f["peer_ratio"] == pytest.approx(f["value"] / f["peer"]), f
    # Compared over the peer's transport only.
    assert figure(figures, "B5", "pings/s pipelined (tcp)")["peer"] is None
    # The workflows the workloads need were created on the peer, and they ran there.
    assert {"evqbench_one_q8", "evqbench_one_q16", "evqbench_chain40"} <= workflow_names(peer)
    history = peer.exec("<instances action='list' limit='1'/>")
    assert int(history.get("rows")) >= 24 * 4


def test_a_tcp_peer_from_the_environment_with_its_own_user(peer: EngineNode) -> None:
    peer.exec("<user action='create' name='bencher' password='s3cret' profile='ADMIN'/>")
    environment = {"EVQUEUE_BENCH_PEER": f"tcp://127.0.0.1:{peer.api_port}",
                   "EVQUEUE_BENCH_PEER_USER": "bencher",
                   "EVQUEUE_BENCH_PEER_PASSWORD": "s3cret"}

    table, figures = bench("--only", "B5", env=environment)

    assert f"# peer: tcp://127.0.0.1:{peer.api_port}" in table
    tcp = figure(figures, "B5", "async launch acks/s pipelined (tcp)")
    assert tcp["peer"] > 0
    assert tcp["peer_ratio"] == pytest.approx(tcp["value"] / tcp["peer"])
    assert figure(figures, "B5", "async launch acks/s pipelined (unix)")["peer"] is None


def test_a_wrong_peer_password_fails_the_compared_benchmarks_with_the_reason(
        peer: EngineNode) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--tiny", "--runs", "1", "--only",
         "B2", "--peer", f"unix://{peer.socket_path}", "--peer-password", "wrong"],
        capture_output=True, text=True, timeout=300, cwd=REPO)

    assert done.returncode == 1
    assert "note B2 failed: RuntimeError: login refused to 'admin'" in done.stdout
