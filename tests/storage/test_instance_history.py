"""The ``instances list`` history query: every filter, paging, grouping."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from evqueue.storage import instance_history
from evqueue.storage.database import Database
from evqueue.storage.instance_history import (
    InstanceFilter,
    InstanceGroup,
    group_instances,
    list_instances,
)
from evqueue.storage.instances import (
    InstanceSpec,
    SavepointWrite,
    create_instance,
    save_instance,
    tag_instance,
)
from evqueue.storage.tags import create_tag
from evqueue.storage.workflows import create_workflow, delete_workflow
from tests.dbfixtures import fresh_database_url, open_database, selected_backend

# The queries only read: the whole module shares one data set, on one event loop.
pytestmark = pytest.mark.backends
shared_loop = pytest.mark.asyncio(loop_scope="module")


def _t(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


@dataclasses.dataclass
class History:
    backup: int
    restore: int
    prod: int
    ids: list[int]  # [jan 10 node1, jan 10 node2 with errors, feb 1 restore, feb 1 running]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def history_db(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[Database, History]]:
    directory = str(tmp_path_factory.mktemp("history"))
    async with fresh_database_url(selected_backend(), directory) as url:
        async with open_database(url) as database:
            yield database, await _fill(database)


@pytest.fixture
def db(history_db: tuple[Database, History]) -> Database:
    return history_db[0]


@pytest.fixture
def history(history_db: tuple[Database, History]) -> History:
    return history_db[1]


async def _fill(db: Database) -> History:
    backup = await create_workflow(db, "backup", "<workflow/>")
    restore = await create_workflow(db, "restore", "<workflow/>")
    prod = await create_tag(db, "prod")
    rows = [
        (backup, "node1", "2024-01-10 10:00:00", "2024-01-10 10:05:00", 0, "sales", "acme", 5),
        (backup, "node2", "2024-01-10 11:00:00", "2024-01-10 11:30:00", 2, "hr", None, None),
        (restore, "node1", "2024-02-01 09:00:00", "2024-02-01 09:01:00", 0, "sales", "globex",
         None),
        (backup, "node1", "2024-02-01 09:30:00", None, 0, "sales", None, None),
    ]
    ids = []
    for workflow_id, node, start, end, errors, dbname, client, schedule in rows:
        instance_id = await create_instance(db, InstanceSpec(
            workflow_id=workflow_id, node_name=node, start=_t(start), schedule_id=schedule,
            host="db1" if schedule else None, comment=f"run on {node}",
            parameters=(("dbname", dbname), ("target", "db1")),
        ))
        if end:
            filters = (("client", client),) if client else ()
            await save_instance(db, SavepointWrite(
                instance_id, "<workflow/>", end=_t(end), errors=errors, filters=filters,
            ))
        ids.append(instance_id)
    await tag_instance(db, ids[0], prod)
    return History(backup, restore, prod, ids)


async def _ids(db: Database, **filters: object) -> list[int]:
    rows, _total = await list_instances(db, InstanceFilter(**filters))  # type: ignore[arg-type]
    return [r.id for r in rows]


@shared_loop
async def test_rows_newest_end_first_running_last(db: Database, history: History) -> None:
    rows, total = await list_instances(db, InstanceFilter())
    first, second, third, running = history.ids
    assert [r.id for r in rows] == [third, second, first, running]
    assert total == 4
    row = rows[2]
    assert (row.workflow_name, row.node_name, row.host, row.start, row.end) == (
        "backup", "node1", "db1", _t("2024-01-10 10:00:00"), _t("2024-01-10 10:05:00"),
    )
    assert (row.errors, row.status, row.schedule_id, row.comment) == (
        0, "TERMINATED", 5, "run on node1",
    )
    assert [t.label for t in row.tags] == ["prod"]
    assert rows[3].end is None and rows[3].status == "EXECUTING" and rows[3].tags == ()


@shared_loop
async def test_paging_reports_the_total(db: Database, history: History) -> None:
    rows, total = await list_instances(db, InstanceFilter(limit=2, offset=1))
    assert [r.id for r in rows] == [history.ids[1], history.ids[0]]
    assert total == 4


@shared_loop
async def test_simple_filters(db: Database, history: History) -> None:
    first, second, third, running = history.ids
    assert await _ids(db, id=second) == [second]
    assert await _ids(db, node="node2") == [second]
    assert await _ids(db, workflow="restore") == [third]
    assert await _ids(db, status="EXECUTING") == [running]
    assert await _ids(db, error=True) == [second]
    assert await _ids(db, tag_id=history.prod) == [first]
    assert await _ids(db, schedule_id=5) == [first]


@shared_loop
async def test_date_filters_are_inclusive(db: Database, history: History) -> None:
    first, second, third, running = history.ids
    assert await _ids(db, launched_from=_t("2024-02-01 09:00:00")) == [third, running]
    assert await _ids(db, launched_until=_t("2024-01-10 11:00:00")) == [second, first]
    assert await _ids(db, ended_from=_t("2024-01-10 11:30:00")) == [third, second]
    assert await _ids(db, ended_until=_t("2024-01-10 10:05:00")) == [first]
    assert await _ids(
        db, launched_from=_t("2024-01-10"), launched_until=_t("2024-01-11"), node="node1",
    ) == [first]


@shared_loop
async def test_parameter_and_custom_attribute_filters(db: Database, history: History) -> None:
    first, second, third, running = history.ids
    assert await _ids(db, parameters=(("dbname", "sales"),)) == [third, first, running]
    assert await _ids(db, parameters=(("dbname", "sales"), ("target", "db1"))) == [
        third, first, running,
    ]
    assert await _ids(db, parameters=(("dbname", "sales"), ("target", "db2"))) == []
    assert await _ids(db, custom_attributes=(("client", "globex"),)) == [third]
    assert await _ids(db, custom_attributes=(("client", "acme"),), workflow="restore") == []


@shared_loop
async def test_read_access_restriction(db: Database, history: History) -> None:
    assert await _ids(db, workflow_ids=frozenset({history.restore})) == [history.ids[2]]
    assert await _ids(db, workflow_ids=frozenset()) == []
    _, total = await list_instances(db, InstanceFilter(workflow_ids=frozenset()))
    assert total == 0


@shared_loop
async def test_group_by_year(db: Database, history: History) -> None:
    groups, total = await group_instances(db, InstanceFilter(groupby="year"))
    assert groups == [
        InstanceGroup("backup", "node1", 2, 2024, None, None, None),
        InstanceGroup("backup", "node2", 1, 2024, None, None, None),
        InstanceGroup("restore", "node1", 1, 2024, None, None, None),
    ]
    assert total == 3


@shared_loop
async def test_group_by_month_newest_first(db: Database, history: History) -> None:
    groups, total = await group_instances(db, InstanceFilter(groupby="month"))
    assert [(g.workflow_name, g.node_name, g.month, g.count) for g in groups] == [
        ("backup", "node1", 2, 1), ("restore", "node1", 2, 1),
        ("backup", "node1", 1, 1), ("backup", "node2", 1, 1),
    ]
    assert total == 4


@shared_loop
async def test_group_by_hour_with_filters_and_paging(db: Database, history: History) -> None:
    flt = InstanceFilter(groupby="hour", workflow="backup", limit=2)
    groups, total = await group_instances(db, flt)
    assert groups == [
        InstanceGroup("backup", "node1", 1, 2024, 2, 1, 9),
        InstanceGroup("backup", "node2", 1, 2024, 1, 10, 11),
    ]
    assert total == 3
    day, _ = await group_instances(db, InstanceFilter(groupby="day", node="node1"))
    assert [(g.workflow_name, g.day, g.hour) for g in day] == [
        ("backup", 1, None), ("restore", 1, None), ("backup", 10, None),
    ]


@shared_loop
async def test_group_requires_a_period(db: Database) -> None:
    with pytest.raises(ValueError):
        await group_instances(db, InstanceFilter())


def test_filter_from_attributes() -> None:
    flt = InstanceFilter.from_attributes(
        {
            "action": "list", "filter_id": "0", "filter_node": "node1",
            "filter_workflow": "backup", "filter_launched_from": "2024-01-10 10:00:00",
            "filter_ended_until": "2024-01-11", "filter_status": "TERMINATED",
            "filter_error": "yes", "filter_tag_id": "3", "filter_schedule_id": "",
            "limit": "10", "offset": "20", "groupby": "day", "parameter_dbname": "sales",
            "parameter_empty": "", "customattribute_client": "acme",
        },
        parameters=[("target", "db1")],
        workflow_ids=[4, 5],
    )
    assert flt == InstanceFilter(
        node="node1", workflow="backup", launched_from=_t("2024-01-10 10:00:00"),
        ended_until=_t("2024-01-11"), status="TERMINATED", error=True, tag_id=3,
        parameters=(("target", "db1"), ("dbname", "sales")),
        custom_attributes=(("client", "acme"),), workflow_ids=frozenset({4, 5}),
        limit=10, offset=20, groupby="day",
    )
    assert InstanceFilter.from_attributes({}) == InstanceFilter()


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"limit": "ten"}, "Attribute 'limit' has invalid integer value"),
        ({"filter_error": "maybe"}, "Attribute 'filter_error' has invalid boolean value"),
        ({"filter_ended_from": "yesterday"}, "Attribute 'filter_ended_from' has invalid date"),
        ({"groupby": "week"}, "groupby must be one of"),
    ],
)
def test_filter_from_bad_attributes(attrs: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InstanceFilter.from_attributes(attrs)


@shared_loop
async def test_either_order_of_postgresql_is_the_same(
        db: Database, history: History, monkeypatch: pytest.MonkeyPatch) -> None:
    # Few matches are sorted; many follow the end-time index: the same rows, the same order.
    sorted_rows = await _ids(db)
    monkeypatch.setattr(instance_history, "_SORT_MATCHES_UP_TO", -1)
    assert await _ids(db) == sorted_rows
    assert await _ids(db, launched_from=_t("2024-01-10"), launched_until=_t("2024-01-11")) == [
        history.ids[1], history.ids[0]]


@pytest.mark.asyncio
async def test_instances_of_a_deleted_workflow_are_neither_listed_nor_counted(
        tmp_path: pathlib.Path) -> None:
    async with fresh_database_url(selected_backend(), str(tmp_path)) as url:
        async with open_database(url) as db:
            kept = await create_workflow(db, "kept", "<workflow/>")
            gone = await create_workflow(db, "gone", "<workflow/>")
            other = await create_workflow(db, "other", "<workflow/>")
            ids = {}
            for workflow_id in (kept, gone, gone, other):
                ids.setdefault(workflow_id, []).append(await create_instance(db, InstanceSpec(
                    workflow_id=workflow_id, node_name="node1",
                    start=_t("2024-01-10 10:00:00"))))
            assert (await list_instances(db, InstanceFilter()))[1] == 4
            await delete_workflow(db, gone)
            for flt in (InstanceFilter(), InstanceFilter(node="node1"),
                        InstanceFilter(status="EXECUTING"), InstanceFilter(limit=1),
                        InstanceFilter(launched_from=_t("2024-01-01"))):
                rows, total = await list_instances(db, flt)
                assert total == 2, flt
                assert len(rows) == min(2, flt.limit)
                assert {r.id for r in rows} <= {*ids[kept], *ids[other]}
            assert (await list_instances(db, InstanceFilter(workflow="gone")))[1] == 0
            assert (await list_instances(db, InstanceFilter(workflow="kept")))[1] == 1
