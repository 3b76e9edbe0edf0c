"""The Prometheus text exposition of /metrics, read back with a small parser."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pytest

from evqueue.api.context import ApiStatistics
from evqueue.server.health import NodeHealth
from evqueue.server.metrics import EngineFigures, Histogram, QueueFigures, render_metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


@dataclass
class Family:
    kind: str = ""
    help: str = ""
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        assert match, f"bad labels: {text!r}"
        labels[match.group(1)] = _unescape(match.group(2))
        position = match.end()
    return labels


def _family_of(name: str, families: dict[str, Family]) -> str:
    if name in families:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and families.get(base, Family()).kind == "histogram":
            return base
    raise AssertionError(f"sample {name} has no TYPE line before it")


def parse_exposition(text: str) -> dict[str, Family]:
    """Parse the text format strictly enough to catch what Prometheus would refuse."""
    assert text.endswith("\n")
    families: dict[str, Family] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help = line[7:].partition(" ")
            assert name not in families, f"{name} described twice"
            families[name] = Family(help=help)
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped")
            assert not families[name].samples, "TYPE must come before the samples"
            families[name].kind = kind
        else:
            match = _SAMPLE.match(line)
            assert match, f"bad sample line: {line!r}"
            name, labels, value = match.group(1), _labels(match.group(3) or ""), match.group(4)
            family = _family_of(name, families)
            number = float(value)  # accepts +Inf, NaN
            families[family].samples.append((name, labels, number))
    for name, family in families.items():
        if family.kind == "counter":
            assert name.endswith("_total")
    return families


def value(families: dict[str, Family], name: str, **labels: str) -> float:
    family = families[_family_of(name, families)]
    found = [v for n, lab, v in family.samples if n == name and lab == labels]
    assert len(found) == 1, (name, labels, family.samples)
    return found[0]


def test_node_and_api_figures_without_engine() -> None:
    stats = ApiStatistics(api_queries=12, current_api_connections=2,
                          current_ws_connections=3, ws_events=40)
    families = parse_exposition(render_metrics(node='no"de\\1\n', version="3.3", uptime=7.5,
                                               stats=stats))
    assert value(families, "evqueue_up") == 1
    assert value(families, "evqueue_info", node='no"de\\1\n', version="3.3") == 1
    assert value(families, "evqueue_uptime_seconds") == 7.5
    assert value(families, "evqueue_api_queries_total") == 12
    assert value(families, "evqueue_api_connections") == 2
    assert value(families, "evqueue_ws_connections") == 3
    assert value(families, "evqueue_ws_events_total") == 40
    assert families["evqueue_api_queries_total"].kind == "counter"
    assert "evqueue_instances" not in families


def test_engine_figures() -> None:
    durations = Histogram.of([0.05, 0.3, 2.0, 2.0, 100000.0], bounds=(0.1, 1.0, 10.0))
    figures = EngineFigures(
        instances={"EXECUTING": 3, "TERMINATED": 10},
        queues=(QueueFigures("default", running=2, queued=5, concurrency=2),
                QueueFigures("slow", running=0, queued=0, concurrency=1)),
        task_durations=durations,
    )
    families = parse_exposition(render_metrics(node="n", version="3.3", uptime=1,
                                               stats=ApiStatistics(), engine=figures))
    assert value(families, "evqueue_instances", status="EXECUTING") == 3
    assert value(families, "evqueue_instances", status="TERMINATED") == 10
    assert value(families, "evqueue_queue_tasks_running", queue="default") == 2
    assert value(families, "evqueue_queue_tasks_queued", queue="default") == 5
    assert value(families, "evqueue_queue_tasks_queued", queue="slow") == 0
    hist = families["evqueue_task_duration_seconds"]
    assert hist.kind == "histogram"
    buckets = [(lab["le"], v) for n, lab, v in hist.samples if n.endswith("_bucket")]
    assert buckets == [("0.1", 1), ("1.0", 2), ("10.0", 4), ("+Inf", 5)]
    assert value(families, "evqueue_task_duration_seconds_count") == 5
    assert math.isclose(value(families, "evqueue_task_duration_seconds_sum"), 100004.35)


def test_histogram_is_checked_when_built() -> None:
    with pytest.raises(ValueError):
        Histogram((1.0, 0.5), (0, 1), 1, 1.0)
    with pytest.raises(ValueError):
        Histogram((1.0, 2.0), (3, 1), 3, 1.0)
    with pytest.raises(ValueError):
        Histogram((1.0,), (3,), 2, 1.0)
    with pytest.raises(ValueError):
        Histogram((1.0, math.inf), (0, 0), 0, 0.0)
    assert Histogram.of([]).count == 0


def test_degraded_node_and_forker_restarts() -> None:
    families = parse_exposition(render_metrics(node="n", version="3.3", uptime=1,
                                               stats=ApiStatistics()))
    assert value(families, "evqueue_degraded") == 0
    assert value(families, "evqueue_forker_restarts_total") == 0
    families = parse_exposition(render_metrics(
        node="n", version="3.3", uptime=1, stats=ApiStatistics(),
        health=NodeHealth(("the forker is not running",), forker_restarts=3)))
    assert value(families, "evqueue_up") == 1, "it still answers"
    assert value(families, "evqueue_degraded") == 1
    assert value(families, "evqueue_forker_restarts_total") == 3
