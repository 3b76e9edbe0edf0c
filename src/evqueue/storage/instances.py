"""Workflow instance rows (``t_workflow_instance``), their parameters, custom attributes
(``t_workflow_instance_filters``) and tags; the history query is in ``instance_history``.

Rules:

* Writes are cheap and batched: ``create_instances`` and ``save_instances`` take several
  items and write them in ONE transaction (one commit), with one executemany per statement
  kind. The single-item verbs are shorthands for a batch of one.
* A ``SavepointWrite`` without ``end`` only replaces the savepoint XML of a running instance
  (levels 2-3). With ``end`` it terminates the row (status, errors, end time, savepoint) and
  stores its custom attributes and automatic tags (labels, created when missing, counted in
  what ``save_instances`` returns): what evQueue does at termination.
* Explicit ids (savepoint levels 0-1, where the engine numbers instances itself) are
  accepted; the id sequence is moved past them so later automatic ids do not collide.
* Only TERMINATED instances can be deleted; deleting one removes its parameters, custom
  attributes, datastore entries and tags.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.driver_statements import DriverStatement
from evqueue.storage.errors import DuplicateName
from evqueue.storage.tables import (
    t_datastore,
    t_tag,
    t_workflow_instance,
    t_workflow_instance_filters,
    t_workflow_instance_parameters,
    t_workflow_instance_tag,
)
from evqueue.storage.tags import TagRow, ensure_tag
from evqueue.storage.timeutil import db_time

__all__ = [
    "InstanceRow",
    "InstanceSpec",
    "SavepointWrite",
    "create_instance",
    "create_instances",
    "delete_executing_instances",
    "delete_instance_dependents",
    "delete_instance",
    "executing_instances",
    "get_instance",
    "instance_filters",
    "instance_parameters",
    "instance_tags",
    "mark_instance_terminated",
    "max_instance_id",
    "save_instance",
    "save_instances",
    "set_instance_node",
    "tag_instance",
    "untag_instance",
]

Pairs = tuple[tuple[str, str], ...]

_wi = t_workflow_instance.c
_wip = t_workflow_instance_parameters.c
_wif = t_workflow_instance_filters.c
_wit = t_workflow_instance_tag.c


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    """A new instance row. ``start=None`` means now; ``instance_id=None`` means automatic."""

    workflow_id: int
    node_name: str = ""
    start: datetime.datetime | None = None
    schedule_id: int | None = None
    host: str | None = None
    comment: str | None = None
    parameters: Pairs = ()
    savepoint: str = ""
    status: str = "EXECUTING"
    end: datetime.datetime | None = None
    errors: int | None = 0
    instance_id: int | None = None
    #: The savepoint as a function of the new row's id, stored in the same transaction (an
    #: automatic id is known only once the row is inserted).
    savepoint_for: Callable[[int], str] | None = None


@dataclass(frozen=True, slots=True)
class SavepointWrite:
    """A savepoint of one instance; with ``end`` set, its termination."""

    instance_id: int
    savepoint: str
    end: datetime.datetime | None = None
    errors: int = 0
    filters: Pairs = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """A stored instance; ``savepoint`` is None when not loaded or not stored."""

    id: int
    workflow_id: int
    node_name: str
    schedule_id: int | None
    host: str | None
    start: datetime.datetime
    end: datetime.datetime | None
    status: str
    errors: int | None
    comment: str | None
    savepoint: str | None


def _row(row: Row[Any]) -> InstanceRow:
    mapping = row._mapping
    return InstanceRow(
        id=row.workflow_instance_id, workflow_id=row.workflow_id, node_name=row.node_name,
        schedule_id=row.workflow_schedule_id, host=row.workflow_instance_host,
        start=row.workflow_instance_start, end=row.workflow_instance_end,
        status=row.workflow_instance_status, errors=row.workflow_instance_errors,
        comment=row.workflow_instance_comment,
        savepoint=mapping.get("workflow_instance_savepoint"),
    )


# --- creation ----------------------------------------------------------------------------


def _spec_values(spec: InstanceSpec) -> dict[str, Any]:
    values: dict[str, Any] = {
        "node_name": spec.node_name, "workflow_id": spec.workflow_id,
        "workflow_schedule_id": spec.schedule_id, "workflow_instance_host": spec.host,
        "workflow_instance_start": db_time(spec.start),
        "workflow_instance_end": db_time(spec.end) if spec.end else None,
        "workflow_instance_status": spec.status, "workflow_instance_errors": spec.errors,
        "workflow_instance_comment": spec.comment,
        "workflow_instance_savepoint": spec.savepoint,
    }
    if spec.instance_id is not None:
        values["workflow_instance_id"] = spec.instance_id
    return values


async def _bump_sequence(conn: AsyncConnection) -> None:
    """Move PostgreSQL's id sequence past explicitly inserted ids (MariaDB/SQLite do it)."""
    if conn.dialect.name != "postgresql":
        return
    await conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('t_workflow_instance', 'workflow_instance_id'),"
            " GREATEST((SELECT MAX(workflow_instance_id) FROM t_workflow_instance), 1))"
        )
    )


async def create_instances(db: Database, specs: Sequence[InstanceSpec]) -> list[int]:
    """Insert instance rows with their parameters, in one transaction.

    Returns:
        The ids of the new rows, in the order of ``specs``.

    Raises:
        DuplicateName: An explicit ``instance_id`` is already taken.
    """
    explicit = [spec.instance_id for spec in specs if spec.instance_id is not None]
    known = explicit if len(explicit) == len(specs) > 1 else []

    async def work(conn: AsyncConnection) -> list[int]:
        ids: list[int] = []
        if known:  # one executemany rather than a statement (and round trip) per row
            await conn.execute(insert(t_workflow_instance), [_spec_values(s) for s in specs])
            ids = list(known)
        else:
            for spec in specs:
                # The launch path: compiled once, run on the driver (driver_statements.py).
                ids.append(await _INSERT.execute(conn, _spec_values(spec)))
                if spec.savepoint_for is not None:
                    await _SAVEPOINT.execute(conn, {
                        "b_id": ids[-1], "b_savepoint": spec.savepoint_for(ids[-1])})
        parameters = [
            {"workflow_instance_id": instance_id, "workflow_instance_parameter": name,
             "workflow_instance_parameter_value": value}
            for instance_id, spec in zip(ids, specs, strict=True)
            for name, value in spec.parameters
        ]
        if parameters:
            await conn.execute(insert(t_workflow_instance_parameters), parameters)
        if any(spec.instance_id is not None for spec in specs):
            await _bump_sequence(conn)
        return ids

    return await db.write(work) if specs else []


async def create_instance(db: Database, spec: InstanceSpec) -> int:
    """Insert one instance row with its parameters; returns its id."""
    return (await create_instances(db, [spec]))[0]


# --- savepoints --------------------------------------------------------------------------

_UPDATE_SAVEPOINT = (
    update(t_workflow_instance)
    .where(_wi.workflow_instance_id == bindparam("b_id"))
    .values(workflow_instance_savepoint=bindparam("b_savepoint"))
)
_TERMINATE = (
    update(t_workflow_instance)
    .where(_wi.workflow_instance_id == bindparam("b_id"))
    .values(
        workflow_instance_savepoint=bindparam("b_savepoint"),
        workflow_instance_status="TERMINATED",
        workflow_instance_errors=bindparam("b_errors"),
        workflow_instance_end=bindparam("b_end"),
    )
)


# The statements every instance runs (launch, savepoints, end), on the driver.
_INSERT = DriverStatement(insert(t_workflow_instance))
_SAVEPOINT = DriverStatement(_UPDATE_SAVEPOINT)
_TERMINATION = DriverStatement(_TERMINATE)


async def _add_tags(conn: AsyncConnection, writes: Sequence[SavepointWrite]) -> int:
    """Tag the ended instances; returns how many tags were created for it."""
    tag_ids: dict[str, int] = {}
    pairs: set[tuple[int, int]] = set()
    created = 0
    for w in writes:
        for label in w.tags:
            if label not in tag_ids:
                tag_ids[label], new = await ensure_tag(conn, label)
                created += new
            pairs.add((tag_ids[label], w.instance_id))
    if not pairs:
        return created
    instance_ids = {instance_id for _, instance_id in pairs}
    existing = await conn.execute(
        select(_wit.tag_id, _wit.workflow_instance_id).where(
            _wit.workflow_instance_id.in_(instance_ids)
        )
    )
    missing = pairs - {(r.tag_id, r.workflow_instance_id) for r in existing}
    if missing:
        await conn.execute(
            insert(t_workflow_instance_tag),
            [{"tag_id": tag_id, "workflow_instance_id": iid} for tag_id, iid in sorted(missing)],
        )
    return created


async def save_instances(db: Database, writes: Sequence[SavepointWrite]) -> int:
    """Write several savepoints and terminations in one transaction.

    Returns:
        How many tags the automatic tags of the ended instances created.
    """
    if not writes:
        return 0
    running = [
        {"b_id": w.instance_id, "b_savepoint": w.savepoint} for w in writes if w.end is None
    ]
    ended = [w for w in writes if w.end is not None]
    terminated = [
        {"b_id": w.instance_id, "b_savepoint": w.savepoint, "b_errors": w.errors,
         "b_end": db_time(w.end)}
        for w in ended
    ]
    filters = [
        {"workflow_instance_id": w.instance_id, "workflow_instance_filter": name,
         "workflow_instance_filter_value": value}
        for w in ended
        for name, value in w.filters
    ]

    async def work(conn: AsyncConnection) -> int:
        if running:
            await _SAVEPOINT.executemany(conn, running)
        if terminated:
            await _TERMINATION.executemany(conn, terminated)
        if filters:
            await conn.execute(insert(t_workflow_instance_filters), filters)
        return await _add_tags(conn, ended)

    return await db.write(work)


async def save_instance(db: Database, write: SavepointWrite) -> None:
    """Write one savepoint (or termination)."""
    await save_instances(db, [write])


async def mark_instance_terminated(db: Database, instance_id: int) -> bool:
    """Set status TERMINATED without touching the rest (an instance that cannot resume)."""
    stmt = (
        update(t_workflow_instance)
        .where(_wi.workflow_instance_id == instance_id)
        .values(workflow_instance_status="TERMINATED")
    )
    return await db.execute(stmt) > 0


async def set_instance_node(db: Database, instance_id: int, node_name: str) -> bool:
    """Give an instance to another node (migrate); returns False if it does not exist."""
    stmt = (
        update(t_workflow_instance)
        .where(_wi.workflow_instance_id == instance_id)
        .values(node_name=node_name)
    )
    return await db.execute(stmt) > 0


# --- reading -----------------------------------------------------------------------------

_SUMMARY = [c for c in t_workflow_instance.c if c.name != "workflow_instance_savepoint"]


async def get_instance(
    db: Database, instance_id: int, *, with_savepoint: bool = True
) -> InstanceRow | None:
    """One instance row, or None; the savepoint XML is skipped unless asked for."""
    columns = list(t_workflow_instance.c) if with_savepoint else _SUMMARY
    row = await db.fetch_one(select(*columns).where(_wi.workflow_instance_id == instance_id))
    return _row(row) if row else None


async def executing_instances(db: Database, node_name: str) -> list[InstanceRow]:
    """Instances still EXECUTING on a node, with their savepoints, by id (resume)."""
    query = (
        select(t_workflow_instance)
        .where(_wi.workflow_instance_status == "EXECUTING", _wi.node_name == node_name)
        .order_by(_wi.workflow_instance_id)
    )
    return [_row(r) for r in await db.fetch_all(query)]


async def _pairs(db: Database, name: Any, value: Any, instance_column: Any, iid: int) -> Pairs:
    rows = await db.fetch_all(select(name, value).where(instance_column == iid))
    return tuple((r[0], r[1]) for r in rows)


async def instance_parameters(db: Database, instance_id: int) -> Pairs:
    """The launch parameters of an instance, as (name, value) pairs."""
    return await _pairs(
        db, _wip.workflow_instance_parameter, _wip.workflow_instance_parameter_value,
        _wip.workflow_instance_id, instance_id,
    )


async def instance_filters(db: Database, instance_id: int) -> Pairs:
    """The custom attributes stored for an instance, as (name, value) pairs."""
    return await _pairs(
        db, _wif.workflow_instance_filter, _wif.workflow_instance_filter_value,
        _wif.workflow_instance_id, instance_id,
    )


async def max_instance_id(db: Database) -> int:
    """The highest instance id in the table (0 when empty)."""
    return int(await db.scalar(select(func.max(_wi.workflow_instance_id))) or 0)


# --- deletion ----------------------------------------------------------------------------


async def delete_instance_dependents(conn: AsyncConnection, ids: Iterable[int]) -> None:
    """Inside a write transaction: delete what belongs to these instance ids."""
    ids = list(ids)
    if not ids:
        return
    for table in (
        t_workflow_instance_parameters, t_workflow_instance_filters, t_datastore,
        t_workflow_instance_tag,
    ):
        await conn.execute(delete(table).where(table.c.workflow_instance_id.in_(ids)))


async def delete_instance(db: Database, instance_id: int) -> bool:
    """Delete a TERMINATED instance and everything attached to it.

    Returns:
        False if there is no terminated instance with this id.
    """

    async def work(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            delete(t_workflow_instance).where(
                _wi.workflow_instance_id == instance_id,
                _wi.workflow_instance_status == "TERMINATED",
            )
        )
        if not result.rowcount:
            return False
        await delete_instance_dependents(conn, [instance_id])
        return True

    return await db.write(work)


async def delete_executing_instances(db: Database, node_name: str | None = None) -> int:
    """Delete the EXECUTING rows (of one node, or of all) after a level 0-1 resume.

    Returns:
        How many rows were deleted.
    """
    stmt = delete(t_workflow_instance).where(_wi.workflow_instance_status == "EXECUTING")
    if node_name is not None:
        stmt = stmt.where(_wi.node_name == node_name)
    return await db.execute(stmt)


# --- tags --------------------------------------------------------------------------------


async def tag_instance(db: Database, instance_id: int, tag_id: int) -> bool:
    """Tag an instance; returns False if it already had this tag."""
    try:
        await db.execute(
            insert(t_workflow_instance_tag).values(tag_id=tag_id, workflow_instance_id=instance_id)
        )
    except DuplicateName:
        return False
    return True


async def untag_instance(db: Database, instance_id: int, tag_id: int) -> bool:
    """Remove a tag from an instance; returns False if it did not have it."""
    stmt = delete(t_workflow_instance_tag).where(
        _wit.workflow_instance_id == instance_id, _wit.tag_id == tag_id
    )
    return await db.execute(stmt) > 0


async def instance_tags(db: Database, instance_ids: Iterable[int]) -> dict[int, list[TagRow]]:
    """The tags of several instances: instance id -> tags by label (absent: no tags)."""
    ids = list(instance_ids)
    if not ids:
        return {}
    query = (
        select(_wit.workflow_instance_id, t_tag.c.tag_id, t_tag.c.tag_label)
        .join(t_tag, t_tag.c.tag_id == _wit.tag_id)
        .where(_wit.workflow_instance_id.in_(ids))
        .order_by(_wit.workflow_instance_id, t_tag.c.tag_label)
    )
    found: dict[int, list[TagRow]] = defaultdict(list)
    for r in await db.fetch_all(query):
        found[r.workflow_instance_id].append(TagRow(r.tag_id, r.tag_label))
    return dict(found)
