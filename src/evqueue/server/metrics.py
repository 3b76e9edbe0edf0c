"""The node's figures in the Prometheus text exposition format (version 0.0.4), for ``/metrics``.

Rules:

- One function, :func:`render_metrics`, turns the API counters and an optional
  :class:`EngineFigures` snapshot into text; it does no I/O and reads no clock (the uptime is
  passed in).
- Every metric family is written once, preceded by its ``# HELP`` and ``# TYPE`` lines;
  counters end in ``_total``; label values escape ``\\``, ``"`` and newlines; a histogram has
  cumulative ``_bucket`` lines ending with ``le="+Inf"``, then ``_sum`` and ``_count``.
- Engine figures come from whoever owns the engine (the runner builds them from the engine's
  state); without them only the node and API figures are written.
- ``evqueue_up`` is 1 whenever the node answers; ``evqueue_degraded`` is 1 while it answers but
  cannot do all its work (:mod:`evqueue.server.health`: no forker, so no task starts).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from evqueue.api.context import ApiStatistics
from evqueue.server.health import NodeHealth

__all__ = [
    "CONTENT_TYPE",
    "DEFAULT_DURATION_BOUNDS",
    "EngineFigures",
    "Histogram",
    "QueueFigures",
    "render_metrics",
]

#: The Content-Type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Upper bounds (seconds) of the task duration histogram buckets.
DEFAULT_DURATION_BOUNDS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0)


@dataclass(frozen=True)
class QueueFigures:
    """Tasks of one queue, as counted now."""

    name: str
    running: int = 0
    queued: int = 0
    concurrency: int = 0


@dataclass(frozen=True)
class Histogram:
    """A cumulative histogram (Prometheus ``histogram``).

    Attributes:
        bounds: finite bucket upper bounds, strictly increasing.
        cumulative: observations ``<=`` each bound (non-decreasing, one per bound).
        count: every observation (the ``+Inf`` bucket).
        sum: the sum of the observations.
    """

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    count: int
    sum: float

    def __post_init__(self) -> None:
        if len(self.bounds) != len(self.cumulative):
            raise ValueError("one cumulative count per bound")
        if any(b <= a for a, b in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError("bounds must increase strictly")
        if any(not math.isfinite(b) for b in self.bounds):
            raise ValueError("bounds must be finite (+Inf is implicit)")
        counts = (*self.cumulative, self.count)
        decreasing = any(b < a for a, b in zip(counts, counts[1:], strict=False))
        if decreasing or min(counts) < 0:
            raise ValueError("cumulative counts must be non-negative and non-decreasing")

    @classmethod
    def of(cls, values: Iterable[float],
           bounds: tuple[float, ...] = DEFAULT_DURATION_BOUNDS) -> Histogram:
        """Build the histogram of ``values`` over ``bounds``."""
        per_bucket = [0] * (len(bounds) + 1)
        total = 0.0
        for value in values:
            per_bucket[bisect.bisect_left(bounds, value)] += 1
            total += value
        cumulative, running = [], 0
        for count in per_bucket[:-1]:
            running += count
            cumulative.append(running)
        return cls(tuple(bounds), tuple(cumulative), running + per_bucket[-1], total)


@dataclass(frozen=True)
class EngineFigures:
    """What the engine reports: instances by status, queue load, task durations."""

    instances: Mapping[str, int] = field(default_factory=dict)
    queues: tuple[QueueFigures, ...] = ()
    task_durations: Histogram | None = None


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help: str) -> None:
        self.lines.append(f"# HELP {name} {help}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: Mapping[str, str] | None = None) -> None:
        text = ""
        if labels:
            text = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"
        self.lines.append(f"{name}{text} {_number(value)}")

    def single(self, name: str, kind: str, help: str, value: float) -> None:
        self.family(name, kind, help)
        self.sample(name, value)


def _write_api(out: _Writer, stats: ApiStatistics) -> None:
    out.single("evqueue_api_queries_total", "counter", "API commands executed (every transport).",
               stats.api_queries)
    out.single("evqueue_api_exceptions_total", "counter", "API commands that failed.",
               stats.api_exceptions)
    out.single("evqueue_api_connections", "gauge", "Open TCP and unix socket API connections.",
               stats.current_api_connections)
    out.single("evqueue_api_connections_accepted_total", "counter",
               "TCP and unix socket API connections accepted.", stats.accepted_api_connections)
    out.single("evqueue_ws_connections", "gauge", "Open websocket connections.",
               stats.current_ws_connections)
    out.single("evqueue_ws_connections_accepted_total", "counter",
               "Websocket connections accepted.", stats.accepted_ws_connections)
    out.single("evqueue_ws_queries_total", "counter", "API commands run over websockets.",
               stats.ws_queries)
    out.single("evqueue_ws_events_total", "counter", "Event pushes sent to websocket clients.",
               stats.ws_events)
    out.single("evqueue_ws_subscriptions", "gauge", "Active websocket event subscriptions.",
               stats.ws_subscriptions)


def _write_engine(out: _Writer, figures: EngineFigures) -> None:
    out.family("evqueue_instances", "gauge", "Workflow instances by status.")
    for status, count in sorted(figures.instances.items()):
        out.sample("evqueue_instances", count, {"status": status})
    families = (
        ("evqueue_queue_tasks_running", "Tasks running, per queue.", "running"),
        ("evqueue_queue_tasks_queued", "Tasks waiting in the queue, per queue.", "queued"),
        ("evqueue_queue_concurrency", "Tasks a queue may run at once.", "concurrency"),
    )
    for name, help, attribute in families:
        out.family(name, "gauge", help)
        for queue in figures.queues:
            out.sample(name, getattr(queue, attribute), {"queue": queue.name})
    if figures.task_durations is not None:
        hist = figures.task_durations
        name = "evqueue_task_duration_seconds"
        out.family(name, "histogram", "Duration of finished tasks.")
        for bound, count in zip(hist.bounds, hist.cumulative, strict=True):
            out.sample(f"{name}_bucket", count, {"le": _number(bound)})
        out.sample(f"{name}_bucket", hist.count, {"le": "+Inf"})
        out.sample(f"{name}_sum", hist.sum)
        out.sample(f"{name}_count", hist.count)


def render_metrics(*, node: str, version: str, uptime: float, stats: ApiStatistics,
                   engine: EngineFigures | None = None,
                   health: NodeHealth | None = None) -> str:
    """Return the exposition text of the node's figures.

    Args:
        node: ``cluster.node.name``, written as a label of ``evqueue_info``.
        version: the engine version, written as a label of ``evqueue_info``.
        uptime: seconds since the node started.
        stats: the API counters.
        engine: the engine's figures, when known.
        health: the node's health (default: ok).

    Returns:
        The text, one ``\\n``-terminated line per HELP, TYPE and sample.
    """
    out = _Writer()
    health = health or NodeHealth()
    out.single("evqueue_up", "gauge", "1 while the node serves.", 1)
    out.single("evqueue_degraded", "gauge",
               "1 while the node serves but cannot do all its work (see /healthz).",
               1 if health.problems else 0)
    out.single("evqueue_forker_restarts_total", "counter",
               "Forkers started to replace one that died.", health.forker_restarts)
    out.family("evqueue_info", "gauge", "The node's name and version.")
    out.sample("evqueue_info", 1, {"node": node, "version": version})
    out.single("evqueue_uptime_seconds", "gauge", "Seconds since the node started.", uptime)
    _write_api(out, stats)
    if engine is not None:
        _write_engine(out, engine)
    return "\n".join(out.lines) + "\n"
