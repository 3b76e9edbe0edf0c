"""The workflow scheduler's clock, and the test-only way to shift it.

Tests of clock skew between nodes (``tests/reliability/test_cluster_faults.py``,
``tests/soak/cluster_faults.py``) run real nodes whose scheduler clocks disagree. Such a node is
started with the environment variable :data:`CLOCK_OFFSET_ENV` (seconds, may be negative or
fractional): the runner reads it once, when it creates the scheduler, and hands the scheduler
a clock shifted by that much (and logs ``scheduler: clock shifted by …``). Unset, the normal
case, the scheduler gets the wall clock. Nothing else of the node is shifted, and the
scheduler itself knows nothing of this: it only calls the clock it is given.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Mapping

__all__ = ["CLOCK_OFFSET_ENV", "clock_offset", "scheduler_clock"]

log = logging.getLogger("evqueue.server")

#: Environment variable shifting the scheduler's clock of a node (tests of clock skew).
CLOCK_OFFSET_ENV = "EVQUEUE_CLOCK_OFFSET"


def clock_offset(environ: Mapping[str, str]) -> datetime.timedelta:
    """The offset :data:`CLOCK_OFFSET_ENV` names; none when it is unset or not a number."""
    value = environ.get(CLOCK_OFFSET_ENV)
    try:
        return datetime.timedelta(seconds=float(value or 0))
    except (ValueError, OverflowError):
        log.warning("%s=%r is not a number of seconds: ignored", CLOCK_OFFSET_ENV, value)
        return datetime.timedelta()


def scheduler_clock(environ: Mapping[str, str]) -> Callable[[], datetime.datetime]:
    """The local wall clock (naive), shifted by :data:`CLOCK_OFFSET_ENV` when it is set."""
    offset = clock_offset(environ)
    if not offset:
        return datetime.datetime.now
    log.warning("scheduler: clock shifted by %+.3f s (%s)", offset.total_seconds(),
                CLOCK_OFFSET_ENV)
    return lambda: datetime.datetime.now() + offset
