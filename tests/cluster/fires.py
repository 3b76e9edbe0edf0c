"""What the shared store and the tasks say of ``any`` schedules due every second.

Rules:
- :class:`Store` reads the cluster's PostgreSQL database from the test's machine (asyncpg on
  an :class:`asyncio.Runner` of the calling thread, so that its socket belongs to the
  machine the thread is in).
- The ``tick`` task appends its instance's id to a ``runs`` file shared by every machine (one
  file system), then sleeps :data:`TICK_SECONDS`: the task side of the count.
- :meth:`Store.tally` counts, for one schedule, over the span of its claimed due times
  (``t_schedule_fire``): due seconds never claimed, claims never launched, instances of the
  schedule that no claim names, tasks that ran other than once, instances that did not end
  well. Any of these is a problem: the cluster promises exactly once. A node that claimed a
  due time and launched it, but could not record the instance in the claim (the store was
  out of reach), leaves a claim without instance and an instance of its own that no claim
  names: the two go together (``unrecorded``), as the node itself pairs them when it starts
  again.
"""

from __future__ import annotations

import asyncio
import datetime
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

__all__ = ["TICK", "TICK_SECONDS", "Claim", "Store", "Tally", "task_runs"]

#: Seconds a scheduled tick task runs.
TICK_SECONDS = 0.2
TICK = """#!/bin/sh
echo "$1" >> {runs}
sleep {seconds}
"""
_SECOND = datetime.timedelta(seconds=1)


@dataclass(frozen=True)
class Claim:
    """A claimed due time."""

    due: datetime.datetime
    node: str
    instance_id: int | None


@dataclass
class Tally:
    """What happened to one schedule's due times, first to last claimed."""

    due_times: int = 0
    claims: list[Claim] = field(default_factory=list)
    never_claimed: list[datetime.datetime] = field(default_factory=list)
    unrecorded: int = 0
    problems: list[str] = field(default_factory=list)

    def by_node(self, since: datetime.datetime | None = None,
                until: datetime.datetime | None = None) -> Counter[str]:
        """Claims per node, of the due times in ``[since, until]`` when given."""
        return Counter(c.node for c in self.claims
                       if (since is None or c.due >= since) and (until is None or c.due <= until))


def task_runs(runs: Path) -> Counter[int]:
    """How many times the task of each instance started (from the task's own file)."""
    try:
        words = runs.read_text().split()
    except FileNotFoundError:
        return Counter()
    return Counter(int(word) for word in words if word.isdigit())


class Store:
    """Read-only queries on the cluster's database.

    Args:
        url: a ``postgresql://`` URL.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._runner = asyncio.Runner()
        self._conn: asyncpg.Connection = self._runner.run(asyncpg.connect(url, timeout=10))

    def close(self) -> None:
        """Close the connection."""
        try:
            self._runner.run(self._conn.close())
        finally:
            self._runner.close()

    def rows(self, sql: str, *args: object) -> list[asyncpg.Record]:
        """The rows of one query."""
        return self._runner.run(self._conn.fetch(sql, *args))

    def instances(self, ids: list[int]) -> dict[int, asyncpg.Record]:
        """Instance rows by id (node, status, errors, savepoint)."""
        rows = self.rows(
            "SELECT workflow_instance_id AS id, node_name, workflow_instance_status AS status,"
            " workflow_instance_errors AS errors, workflow_instance_savepoint AS savepoint"
            " FROM t_workflow_instance WHERE workflow_instance_id = ANY($1::int[])", ids)
        return {row["id"]: row for row in rows}

    def claims(self, schedule_id: int) -> list[Claim]:
        """The claims of a schedule, by due time."""
        rows = self.rows("SELECT due_time, node_name, workflow_instance_id FROM t_schedule_fire"
                         " WHERE workflow_schedule_id = $1 ORDER BY due_time", schedule_id)
        return [Claim(row[0], row[1], row[2]) for row in rows]

    def unfinished(self, schedule_ids: list[int]) -> int:
        """Instances of these schedules not TERMINATED yet."""
        rows = self.rows("SELECT count(*) FROM t_workflow_instance WHERE workflow_schedule_id"
                         " = ANY($1::int[]) AND workflow_instance_status <> 'TERMINATED'",
                         schedule_ids)
        return int(rows[0][0])

    def tally(self, schedule_id: int, runs: Path) -> Tally:
        """Count due times, claims, instances and task runs of one schedule."""
        claims, ran = self.claims(schedule_id), task_runs(runs)
        instances = {row[0]: (row[1], row[2], row[3]) for row in self.rows(
            "SELECT workflow_instance_id, node_name, workflow_instance_status,"
            " workflow_instance_errors FROM t_workflow_instance WHERE workflow_schedule_id = $1",
            schedule_id)}
        tally = Tally(claims=claims)
        if not claims:
            tally.problems.append(f"schedule {schedule_id} never fired")
            return tally
        tally.due_times = int((claims[-1].due - claims[0].due) / _SECOND) + 1
        claimed = {c.due for c in claims}
        due = claims[0].due
        while due <= claims[-1].due:
            if due not in claimed:
                tally.never_claimed.append(due)
                tally.problems.append(f"due time {due} was never claimed")
            due += _SECOND
        named = Counter(c.instance_id for c in claims if c.instance_id)
        tally.problems += [f"instance {i} is named by {n} claims" for i, n in named.items()
                           if n > 1]
        unnamed = sorted(i for i in instances if i not in named)
        launched = set(named)
        tally.problems += [f"claim of {c.due} by {c.node} was settled without a run"
                           for c in claims if c.instance_id == 0]
        for claim in (c for c in claims if c.instance_id is None):
            mine = [i for i in unnamed if instances[i][0] == claim.node]
            if mine:
                unnamed.remove(mine[0])
                launched.add(mine[0])
                tally.unrecorded += 1
            else:
                tally.problems.append(f"claim of {claim.due} by {claim.node} never launched")
        tally.problems += [f"instance {i} of {instances[i][0]} has no claim" for i in unnamed]
        for instance_id in launched:
            node, status, errors = instances.get(instance_id, ("?", "missing", None))
            if (status, errors) != ("TERMINATED", 0):
                tally.problems.append(f"instance {instance_id} of {node}: {status}, "
                                      f"errors {errors}")
            if ran[instance_id] != 1:
                tally.problems.append(f"the task of instance {instance_id} ran "
                                      f"{ran[instance_id]} times")
        return tally
