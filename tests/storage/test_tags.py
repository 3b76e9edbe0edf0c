"""Tag labels."""

from __future__ import annotations

import asyncio

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.instances import InstanceSpec, create_instance, instance_tags, tag_instance
from evqueue.storage.tags import (
    create_tag,
    delete_tag,
    get_tag,
    get_tag_by_label,
    list_tags,
    update_tag,
)

pytestmark = pytest.mark.backends


async def test_tag_lifecycle(db: Database) -> None:
    tag_id = await create_tag(db, "prod")
    assert (await get_tag(db, tag_id)).label == "prod"  # type: ignore[union-attr]
    assert (await get_tag_by_label(db, "prod")).id == tag_id  # type: ignore[union-attr]
    assert await update_tag(db, tag_id, "production")
    assert [t.label for t in await list_tags(db)] == ["production"]
    assert await delete_tag(db, tag_id)
    assert await get_tag(db, tag_id) is None
    assert not await delete_tag(db, tag_id)


async def test_creating_an_existing_label_returns_its_id(db: Database) -> None:
    first = await create_tag(db, "prod")
    assert await create_tag(db, "prod") == first


async def test_concurrent_creations_agree(db: Database) -> None:
    other = await Database.open(db.url)
    try:
        tries = [create_tag(d, "shared") for _ in range(5) for d in (db, other)]
        ids = await asyncio.gather(*tries)
    finally:
        await other.close()
    assert len(set(ids)) == 1
    assert len(await list_tags(db)) == 1


async def test_renaming_onto_another_label_fails(db: Database) -> None:
    await create_tag(db, "a")
    b = await create_tag(db, "b")
    with pytest.raises(DuplicateName):
        await update_tag(db, b, "a")


async def test_deleting_a_tag_untags_instances(db: Database) -> None:
    tag_id = await create_tag(db, "prod")
    instance_id = await create_instance(db, InstanceSpec(workflow_id=1))
    assert await tag_instance(db, instance_id, tag_id)
    await delete_tag(db, tag_id)
    assert await instance_tags(db, [instance_id]) == {}
