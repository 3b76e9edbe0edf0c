"""Instance rows: creation, savepoints, termination, resume queries, deletion, tags."""

from __future__ import annotations

import datetime

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.instances import (
    InstanceSpec,
    SavepointWrite,
    create_instance,
    create_instances,
    delete_executing_instances,
    delete_instance,
    executing_instances,
    get_instance,
    instance_filters,
    instance_parameters,
    instance_tags,
    mark_instance_terminated,
    max_instance_id,
    save_instance,
    save_instances,
    set_instance_node,
    tag_instance,
    untag_instance,
)
from evqueue.storage.tags import create_tag, list_tags

pytestmark = pytest.mark.backends

T0 = datetime.datetime(2024, 1, 10, 10, 0, 0)
T1 = datetime.datetime(2024, 1, 10, 10, 0, 9)


async def test_create_and_load(db: Database) -> None:
    spec = InstanceSpec(
        workflow_id=7, node_name="node1", start=T0.replace(microsecond=500), schedule_id=3,
        host="db1", comment="manual run", parameters=(("dbname", "sales"), ("target", "db1")),
    )
    instance_id = await create_instance(db, spec)
    row = await get_instance(db, instance_id)
    assert row is not None
    assert (row.workflow_id, row.node_name, row.schedule_id, row.host, row.comment) == (
        7, "node1", 3, "db1", "manual run",
    )
    assert (row.start, row.end, row.status, row.errors, row.savepoint) == (
        T0, None, "EXECUTING", 0, "",
    )
    assert await instance_parameters(db, instance_id) == (("dbname", "sales"), ("target", "db1"))
    light = await get_instance(db, instance_id, with_savepoint=False)
    assert light is not None and light.savepoint is None and light.start == T0
    assert await get_instance(db, instance_id + 100) is None


async def test_batch_creation_is_ordered(db: Database) -> None:
    specs = [InstanceSpec(workflow_id=1, parameters=(("n", str(i)),)) for i in range(5)]
    ids = await create_instances(db, specs)
    assert ids == sorted(ids) and len(set(ids)) == 5
    for i, instance_id in enumerate(ids):
        assert await instance_parameters(db, instance_id) == (("n", str(i)),)
    assert await create_instances(db, []) == []
    assert await max_instance_id(db) == ids[-1]


async def test_explicit_ids_do_not_collide_with_automatic_ones(db: Database) -> None:
    """Savepoint levels 0-1 number instances themselves and insert them at the end."""
    assert await max_instance_id(db) == 0
    ended = InstanceSpec(
        workflow_id=1, instance_id=500, status="TERMINATED", start=T0, end=T1, errors=2,
        savepoint="<workflow/>",
    )
    assert await create_instance(db, ended) == 500
    assert await create_instance(db, InstanceSpec(workflow_id=1)) > 500
    with pytest.raises(DuplicateName):
        await create_instance(db, ended)


async def test_a_batch_with_explicit_ids_keeps_them_and_their_parameters(db: Database) -> None:
    specs = [InstanceSpec(workflow_id=1, instance_id=700 + i, status="TERMINATED", start=T0,
                          end=T1, parameters=(("n", str(i)),) if i % 2 else ())
             for i in range(4)]
    assert await create_instances(db, specs) == [700, 701, 702, 703]
    assert [await instance_parameters(db, 700 + i) for i in range(4)] == [
        (), (("n", "1"),), (), (("n", "3"),)]
    assert await create_instance(db, InstanceSpec(workflow_id=1)) == 704
    with pytest.raises(DuplicateName):
        await create_instances(db, [specs[3], InstanceSpec(workflow_id=1, instance_id=800)])
    assert await max_instance_id(db) == 704


async def test_savepoints_and_termination_in_one_batch(db: Database) -> None:
    first, second = await create_instances(db, [InstanceSpec(workflow_id=1)] * 2)
    await create_tag(db, "existing")
    tags_created = await save_instances(db, [
        SavepointWrite(first, "<workflow status='EXECUTING'/>"),
        SavepointWrite(
            second, "<workflow status='TERMINATED'/>", end=T1, errors=3,
            filters=(("client", "acme"), ("size", "12")), tags=("existing", "auto"),
        ),
    ])
    assert tags_created == 1  # "auto"
    running = await get_instance(db, first)
    assert running is not None
    assert (running.status, running.savepoint, running.end) == (
        "EXECUTING", "<workflow status='EXECUTING'/>", None,
    )
    ended = await get_instance(db, second)
    assert ended is not None
    assert (ended.status, ended.errors, ended.end, ended.savepoint) == (
        "TERMINATED", 3, T1, "<workflow status='TERMINATED'/>",
    )
    assert await instance_filters(db, second) == (("client", "acme"), ("size", "12"))
    assert [t.label for t in (await instance_tags(db, [first, second]))[second]] == [
        "auto", "existing",
    ]
    assert {t.label for t in await list_tags(db)} == {"auto", "existing"}
    assert await save_instances(db, []) == 0


async def test_executing_instances_of_a_node(db: Database) -> None:
    a, b, c, d = await create_instances(db, [
        InstanceSpec(workflow_id=1, node_name="node1", savepoint="<a/>"),
        InstanceSpec(workflow_id=1, node_name="node2"),
        InstanceSpec(workflow_id=1, node_name="node1", savepoint="<c/>"),
        InstanceSpec(workflow_id=1, node_name="node1"),
    ])
    await save_instance(db, SavepointWrite(d, "<d/>", end=T1))
    found = await executing_instances(db, "node1")
    assert [(r.id, r.savepoint) for r in found] == [(a, "<a/>"), (c, "<c/>")]

    assert await set_instance_node(db, b, "node1")  # migrate
    assert [r.id for r in await executing_instances(db, "node1")] == [a, b, c]
    assert await mark_instance_terminated(db, c)
    assert [r.id for r in await executing_instances(db, "node1")] == [a, b]
    assert not await set_instance_node(db, 999, "node1")


async def test_delete_only_terminated_with_dependents(db: Database) -> None:
    tag = await create_tag(db, "keep")
    running, ended = await create_instances(db, [
        InstanceSpec(workflow_id=1, parameters=(("p", "1"),)),
        InstanceSpec(workflow_id=1, parameters=(("p", "2"),)),
    ])
    await save_instance(db, SavepointWrite(ended, "<x/>", end=T1, filters=(("f", "v"),)))
    await tag_instance(db, ended, tag)
    assert not await delete_instance(db, running)
    assert await delete_instance(db, ended)
    assert not await delete_instance(db, ended)
    assert await get_instance(db, ended) is None
    assert await instance_parameters(db, ended) == ()
    assert await instance_filters(db, ended) == ()
    assert await instance_tags(db, [ended]) == {}
    assert await instance_parameters(db, running) == (("p", "1"),)


async def test_delete_executing_rows(db: Database) -> None:
    await create_instances(db, [
        InstanceSpec(workflow_id=1, node_name="node1"),
        InstanceSpec(workflow_id=1, node_name="node2"),
        InstanceSpec(workflow_id=1, node_name="node2"),
    ])
    assert await delete_executing_instances(db, "node1") == 1
    assert await delete_executing_instances(db) == 2
    assert await executing_instances(db, "node2") == []


async def test_tagging(db: Database) -> None:
    instance_id = await create_instance(db, InstanceSpec(workflow_id=1))
    prod, urgent = await create_tag(db, "prod"), await create_tag(db, "urgent")
    assert await tag_instance(db, instance_id, urgent)
    assert await tag_instance(db, instance_id, prod)
    assert not await tag_instance(db, instance_id, prod)
    tags = await instance_tags(db, [instance_id, instance_id + 1])
    assert [t.label for t in tags[instance_id]] == ["prod", "urgent"]
    assert instance_id + 1 not in tags
    assert await untag_instance(db, instance_id, prod)
    assert not await untag_instance(db, instance_id, prod)
    assert await instance_tags(db, []) == {}
