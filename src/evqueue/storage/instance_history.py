"""The instance history query (``<instances action="list">``, protocol.md §4.2).

Rules:

* ``InstanceFilter`` holds every filter of the API: id, node, workflow name, launch and end
  date ranges (inclusive), status, errors > 0, tag, schedule, launch parameters and custom
  attributes (each an exact name/value match), the read-access restriction of non-admin
  users (``workflow_ids``), ``limit`` (30), ``offset`` and ``groupby``.
  ``InstanceFilter.from_attributes`` builds it from the request's attributes.
* ``list_instances`` returns one page of rows with their tags, newest end first (running
  instances, which have no end yet, last), plus the total number of matching rows.
* Instances of a deleted workflow stay in the table and are never listed (the list joins
  ``t_workflow``, as evQueue's does). The total counts the instance table alone, without that
  join (which costs more than the count itself on a large history), leaving out the
  instances of the deleted workflows by id (:func:`_deleted_workflow_ids`).
* On PostgreSQL, a filter that matches few rows has its matches sorted rather than the
  end-time index walked from the newest row: the planner, unaware that start and end times go
  together, expects the 30 rows of a day long ago near the top of that index.
* ``group_instances`` counts matching instances per workflow, node and launch period
  (``hour``, ``day``, ``month`` or ``year``), newest period first, plus the number of groups.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, and_, cast, extract, false, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ColumnElement, Select

from evqueue.storage.database import Database
from evqueue.storage.tables import (
    t_tag,
    t_workflow,
    t_workflow_instance,
    t_workflow_instance_filters,
    t_workflow_instance_parameters,
    t_workflow_instance_tag,
)
from evqueue.storage.tags import TagRow
from evqueue.storage.timeutil import parse_db_time

__all__ = [
    "GROUP_BY",
    "InstanceFilter",
    "InstanceGroup",
    "InstanceSummary",
    "group_instances",
    "list_instances",
]

#: Periods ``groupby`` accepts, from the finest; each also groups by the coarser ones.
GROUP_BY = ("hour", "day", "month", "year")

Pairs = tuple[tuple[str, str], ...]

_wi = t_workflow_instance.c
_w = t_workflow.c


def _int(attrs: Mapping[str, str], key: str, default: int | None = None) -> int | None:
    value = attrs.get(key, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Attribute '{key}' has invalid integer value") from None


def _bool(attrs: Mapping[str, str], key: str) -> bool:
    value = attrs.get(key, "").lower()
    if value in ("", "no", "false", "0"):
        return False
    if value in ("yes", "true", "1"):
        return True
    raise ValueError(f"Attribute '{key}' has invalid boolean value")


def _time(attrs: Mapping[str, str], key: str) -> datetime.datetime | None:
    value = attrs.get(key, "")
    if not value:
        return None
    try:
        return parse_db_time(value)
    except ValueError:
        raise ValueError(f"Attribute '{key}' has invalid date value") from None


def _prefixed(attrs: Mapping[str, str], prefix: str) -> Pairs:
    return tuple(
        (key[len(prefix):], value)
        for key, value in attrs.items()
        if key.startswith(prefix) and len(key) > len(prefix) and value != ""
    )


@dataclass(frozen=True, slots=True)
class InstanceFilter:
    """The filters of the history query; None or empty means "do not filter"."""

    id: int | None = None
    node: str | None = None
    workflow: str | None = None
    launched_from: datetime.datetime | None = None
    launched_until: datetime.datetime | None = None
    ended_from: datetime.datetime | None = None
    ended_until: datetime.datetime | None = None
    status: str | None = None
    error: bool = False
    tag_id: int | None = None
    schedule_id: int | None = None
    parameters: Pairs = ()
    custom_attributes: Pairs = ()
    workflow_ids: frozenset[int] | None = None
    limit: int = 30
    offset: int = 0
    groupby: str | None = None

    @classmethod
    def from_attributes(
        cls,
        attrs: Mapping[str, str],
        parameters: Iterable[tuple[str, str]] = (),
        workflow_ids: Iterable[int] | None = None,
    ) -> InstanceFilter:
        """Build the filter from the attributes of ``<instances action="list" …/>``.

        Args:
            attrs: The request attributes (``filter_*``, ``limit``, ``offset``, ``groupby``,
                ``parameter_<name>``, ``customattribute_<name>``); empty values are ignored.
            parameters: ``<parameter name value/>`` children, also launch parameter filters.
            workflow_ids: Workflows the user may read (None for an admin: no restriction).

        Raises:
            ValueError: An attribute has an invalid value (message in evQueue's words).
        """
        groupby = attrs.get("groupby", "") or None
        if groupby is not None and groupby not in GROUP_BY:
            raise ValueError("groupby must be one of hour, day, month, year")
        return cls(
            id=_int(attrs, "filter_id") or None,
            node=attrs.get("filter_node") or None,
            workflow=attrs.get("filter_workflow") or None,
            launched_from=_time(attrs, "filter_launched_from"),
            launched_until=_time(attrs, "filter_launched_until"),
            ended_from=_time(attrs, "filter_ended_from"),
            ended_until=_time(attrs, "filter_ended_until"),
            status=attrs.get("filter_status") or None,
            error=_bool(attrs, "filter_error"),
            tag_id=_int(attrs, "filter_tag_id") or None,
            schedule_id=_int(attrs, "filter_schedule_id") or None,
            parameters=tuple(parameters) + _prefixed(attrs, "parameter_"),
            custom_attributes=_prefixed(attrs, "customattribute_"),
            workflow_ids=frozenset(workflow_ids) if workflow_ids is not None else None,
            limit=_int(attrs, "limit", 30) or 0,
            offset=_int(attrs, "offset", 0) or 0,
            groupby=groupby,
        )


@dataclass(frozen=True, slots=True)
class InstanceSummary:
    """One row of the history list."""

    id: int
    workflow_name: str
    node_name: str
    host: str | None
    start: datetime.datetime
    end: datetime.datetime | None
    errors: int | None
    status: str
    schedule_id: int | None
    comment: str | None
    tags: tuple[TagRow, ...]


@dataclass(frozen=True, slots=True)
class InstanceGroup:
    """One row of the grouped history: how many instances per workflow, node and period."""

    workflow_name: str
    node_name: str
    count: int
    year: int
    month: int | None
    day: int | None
    hour: int | None


# --- conditions --------------------------------------------------------------------------


def _equal_conditions(flt: InstanceFilter) -> list[ColumnElement[bool]]:
    pairs: list[tuple[Any, Any]] = [
        (_wi.workflow_instance_id, flt.id), (_wi.node_name, flt.node),
        (_w.workflow_name, flt.workflow), (_wi.workflow_instance_status, flt.status),
        (_wi.workflow_schedule_id, flt.schedule_id),
    ]
    return [column == value for column, value in pairs if value is not None]


def _range_conditions(flt: InstanceFilter) -> list[ColumnElement[bool]]:
    start, end = _wi.workflow_instance_start, _wi.workflow_instance_end
    bounds: list[tuple[Any, Any, bool]] = [
        (start, flt.launched_from, True), (start, flt.launched_until, False),
        (end, flt.ended_from, True), (end, flt.ended_until, False),
    ]
    return [
        (column >= value) if lower else (column <= value)
        for column, value, lower in bounds
        if value is not None
    ]


def _pair_matches(table: Any, name_column: Any, value_column: Any, pairs: Pairs) -> list[Any]:
    # "id IN (ids with this pair)", not a correlated EXISTS: the database then starts from
    # the (name, value) index instead of probing every instance row.
    return [
        _wi.workflow_instance_id.in_(
            select(table.c.workflow_instance_id).where(name_column == name,
                                                       value_column == value))
        for name, value in pairs
    ]


def _conditions(flt: InstanceFilter) -> list[ColumnElement[bool]]:
    conditions = _equal_conditions(flt) + _range_conditions(flt)
    if flt.error:
        conditions.append(_wi.workflow_instance_errors > 0)
    if flt.tag_id is not None:
        wit = t_workflow_instance_tag.c
        conditions.append(_wi.workflow_instance_id.in_(
            select(wit.workflow_instance_id).where(wit.tag_id == flt.tag_id)))
    if flt.workflow_ids is not None:
        ids = sorted(flt.workflow_ids)
        conditions.append(_w.workflow_id.in_(ids) if ids else false())
    wip, wif = t_workflow_instance_parameters.c, t_workflow_instance_filters.c
    conditions += _pair_matches(
        t_workflow_instance_parameters, wip.workflow_instance_parameter,
        wip.workflow_instance_parameter_value, flt.parameters,
    )
    conditions += _pair_matches(
        t_workflow_instance_filters, wif.workflow_instance_filter,
        wif.workflow_instance_filter_value, flt.custom_attributes,
    )
    return conditions


def _from(query: Select[Any], flt: InstanceFilter) -> Select[Any]:
    joined = t_workflow_instance.join(t_workflow, _w.workflow_id == _wi.workflow_id)
    conditions = _conditions(flt)
    return query.select_from(joined).where(and_(*conditions)) if conditions else (
        query.select_from(joined)
    )


# --- queries -----------------------------------------------------------------------------


async def _tags(conn: AsyncConnection, ids: list[int]) -> dict[int, tuple[TagRow, ...]]:
    if not ids:
        return {}
    wit = t_workflow_instance_tag.c
    rows = await conn.execute(
        select(wit.workflow_instance_id, t_tag.c.tag_id, t_tag.c.tag_label)
        .join(t_tag, t_tag.c.tag_id == wit.tag_id)
        .where(wit.workflow_instance_id.in_(ids))
        .order_by(t_tag.c.tag_label)
    )
    found: dict[int, list[TagRow]] = defaultdict(list)
    for r in rows:
        found[r.workflow_instance_id].append(TagRow(r.tag_id, r.tag_label))
    return {key: tuple(value) for key, value in found.items()}


#: Up to this many matches, PostgreSQL sorts them (a few milliseconds) rather than walk the
#: end-time index (see the module rules).
_SORT_MATCHES_UP_TO = 20_000


def _newest_end_first(dialect: str, matches: int) -> list[Any]:
    """End time descending with running instances (no end) last, then id descending.

    Written so that an index on the end time gives the order without sorting the table:
    SQLite and MariaDB put NULLs last in a descending order by themselves (and their end
    time index also orders by id); PostgreSQL needs ``NULLS LAST`` and its own index
    (``ix_t_workflow_instance_history``), which ``coalesce(end)`` (the same value) keeps it
    from using when there are few ``matches`` to sort.
    """
    if dialect != "postgresql":
        return [_wi.workflow_instance_end.desc(), _wi.workflow_instance_id.desc()]
    end: Any = _wi.workflow_instance_end
    if matches <= _SORT_MATCHES_UP_TO:
        end = func.coalesce(end)
    return [end.desc().nulls_last(), _wi.workflow_instance_id.desc()]


async def _deleted_workflow_ids(conn: AsyncConnection) -> list[int]:
    """The workflow ids of instances whose workflow is gone.

    The distinct ids are walked through the ``(workflow_id, end)`` index, one probe per id
    (a recursive query: PostgreSQL has no skip scan), so this costs about as much as there
    are workflows, whatever the size of the history.
    """
    instances, workflows = t_workflow_instance.name, t_workflow.name
    rows = await conn.execute(text(f"""
        WITH RECURSIVE ids(id) AS (
            SELECT min(workflow_id) FROM {instances}
            UNION ALL
            SELECT (SELECT min(wi.workflow_id) FROM {instances} wi WHERE wi.workflow_id > ids.id)
            FROM ids WHERE ids.id IS NOT NULL)
        SELECT id FROM ids
        WHERE id IS NOT NULL AND id NOT IN (SELECT workflow_id FROM {workflows})"""))
    return [int(row[0]) for row in rows]


async def _count(conn: AsyncConnection, flt: InstanceFilter) -> int:
    """How many instances the filter matches (see the module rules)."""
    if flt.workflow is not None or flt.workflow_ids is not None:
        query = _from(select(func.count()), flt)  # conditions on t_workflow: joined
    else:
        conditions = _conditions(flt)
        deleted = await _deleted_workflow_ids(conn)
        if deleted:
            conditions.append(_wi.workflow_id.not_in(deleted))
        query = select(func.count()).select_from(t_workflow_instance).where(*conditions)
    return int((await conn.execute(query)).scalar() or 0)


async def list_instances(
    db: Database, flt: InstanceFilter
) -> tuple[list[InstanceSummary], int]:
    """One page of the instance history (``flt.groupby`` is ignored).

    Returns:
        The page's rows, newest end first, and the total number of matching instances.
    """
    columns = [
        _wi.workflow_instance_id, _w.workflow_name, _wi.node_name, _wi.workflow_instance_host,
        _wi.workflow_instance_start, _wi.workflow_instance_end, _wi.workflow_instance_errors,
        _wi.workflow_instance_status, _wi.workflow_schedule_id, _wi.workflow_instance_comment,
    ]

    async def work(conn: AsyncConnection) -> tuple[list[InstanceSummary], int]:
        total = await _count(conn, flt)
        order = _newest_end_first(conn.dialect.name, total)
        page = _from(select(*columns), flt).order_by(*order).limit(flt.limit).offset(flt.offset)
        rows = (await conn.execute(page)).all()
        tags = await _tags(conn, [r.workflow_instance_id for r in rows])
        summaries = [
            InstanceSummary(
                id=r.workflow_instance_id, workflow_name=r.workflow_name,
                node_name=r.node_name, host=r.workflow_instance_host,
                start=r.workflow_instance_start, end=r.workflow_instance_end,
                errors=r.workflow_instance_errors, status=r.workflow_instance_status,
                schedule_id=r.workflow_schedule_id, comment=r.workflow_instance_comment,
                tags=tags.get(r.workflow_instance_id, ()),
            )
            for r in rows
        ]
        return summaries, total

    return await db.read(work)


def _periods(groupby: str) -> list[Any]:
    """Period columns, coarsest first: year, then month, day, hour as ``groupby`` asks."""
    depth = len(GROUP_BY) - GROUP_BY.index(groupby)
    names = ("year", "month", "day", "hour")[:depth]
    return [cast(extract(name, _wi.workflow_instance_start), Integer).label(name) for name in names]


async def group_instances(db: Database, flt: InstanceFilter) -> tuple[list[InstanceGroup], int]:
    """Count matching instances per workflow, node and ``flt.groupby`` period.

    Returns:
        The page of groups, newest period first, and the total number of groups.

    Raises:
        ValueError: ``flt.groupby`` is not one of ``GROUP_BY``.
    """
    if flt.groupby not in GROUP_BY:
        raise ValueError("groupby must be one of hour, day, month, year")
    periods = _periods(flt.groupby)
    keys = [_w.workflow_name, _wi.node_name, *periods]
    grouped = _from(select(*keys, func.count().label("n")), flt).group_by(*keys)
    page = (
        grouped.order_by(*(p.desc() for p in periods), _w.workflow_name, _wi.node_name)
        .limit(flt.limit)
        .offset(flt.offset)
    )
    count = select(func.count()).select_from(grouped.subquery())

    async def work(conn: AsyncConnection) -> tuple[list[InstanceGroup], int]:
        rows = (await conn.execute(page)).all()
        total = int((await conn.execute(count)).scalar() or 0)
        groups = [
            InstanceGroup(
                workflow_name=r.workflow_name, node_name=r.node_name, count=int(r.n),
                year=int(r.year), month=_opt(r, "month"), day=_opt(r, "day"),
                hour=_opt(r, "hour"),
            )
            for r in rows
        ]
        return groups, total

    return await db.read(work)


def _opt(row: Any, name: str) -> int | None:
    value = row._mapping.get(name)
    return int(value) if value is not None else None
