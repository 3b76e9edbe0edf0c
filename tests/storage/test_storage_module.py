"""Storage module: variables, launchers, displays."""

from __future__ import annotations

import pytest

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName
from evqueue.storage.storage_module import (
    DisplaySpec,
    LauncherSpec,
    create_display,
    create_launcher,
    delete_display,
    delete_launcher,
    delete_variable,
    find_variable,
    get_display,
    get_launcher,
    get_variable,
    list_displays,
    list_launchers,
    list_variables,
    set_variable,
    set_variable_value,
    update_display,
    update_launcher,
)
from evqueue.storage.users import create_user, grant_module_right, list_module_rights

pytestmark = pytest.mark.backends


async def test_variables(db: Database) -> None:
    vid = await set_variable(db, "servers/web", "count", "INT", "NONE", "3")
    stored = await get_variable(db, vid)
    assert stored is not None
    assert (stored.path, stored.name, stored.type, stored.structure, stored.value) == (
        "servers/web", "count", "INT", "NONE", "3",
    )
    # setting again replaces the value and keeps the id
    assert await set_variable(db, "servers/web", "count", "INT", "NONE", "4") == vid
    assert (await find_variable(db, "servers/web", "count")).value == "4"  # type: ignore[union-attr]
    assert await set_variable_value(db, vid, "5")
    assert (await get_variable(db, vid)).value == "5"  # type: ignore[union-attr]
    assert await find_variable(db, "servers", "count") is None
    assert await delete_variable(db, vid)
    assert not await delete_variable(db, vid)
    assert await get_variable(db, vid) is None


async def test_listing_variables_by_path(db: Database) -> None:
    for path, name in [
        ("servers", "all"), ("servers/web", "a"), ("servers/web/eu", "b"), ("servers_old", "c"),
        ("servers%", "d"), ("other", "e"),
    ]:
        await set_variable(db, path, name, "STRING", "NONE", '"x"')
    assert [v.name for v in await list_variables(db, "servers")] == ["all"]
    assert [v.name for v in await list_variables(db, "servers", recursive=True)] == [
        "all", "a", "b",
    ]
    assert [v.name for v in await list_variables(db, "servers%", recursive=True)] == ["d"]
    assert len(await list_variables(db, "", recursive=True)) == 6


async def test_launchers(db: Database) -> None:
    spec = LauncherSpec(
        name="backup now", workflow_id=3, group="ops", description="Run the backup",
        user="launchers/user", host="launchers/host", parameters='{"dbname":"sales"}',
    )
    launcher_id = await create_launcher(db, spec)
    stored = await get_launcher(db, launcher_id)
    assert stored is not None
    assert (stored.name, stored.workflow_id, stored.group, stored.description) == (
        "backup now", 3, "ops", "Run the backup",
    )
    assert (stored.user, stored.host, stored.parameters) == (
        "launchers/user", "launchers/host", '{"dbname":"sales"}',
    )
    with pytest.raises(DuplicateName):
        await create_launcher(db, spec)
    assert await update_launcher(db, launcher_id, LauncherSpec(name="renamed", workflow_id=4))
    assert [(x.name, x.workflow_id) for x in await list_launchers(db)] == [("renamed", 4)]

    alice = await create_user(db, "alice", "pw")
    await grant_module_right(db, alice, "storage", "launcher", launcher_id)
    assert await delete_launcher(db, launcher_id)
    assert await list_module_rights(db, alice) == []
    assert await get_launcher(db, launcher_id) is None
    assert not await delete_launcher(db, launcher_id)
    assert not await update_launcher(db, launcher_id, spec)


async def test_displays(db: Database) -> None:
    spec = DisplaySpec(name="servers", path="servers/web", order="DESC", group="infra",
                       item_title="{name}", item_content="{value}")
    display_id = await create_display(db, spec)
    stored = await get_display(db, display_id)
    assert stored is not None
    assert (stored.name, stored.path, stored.order, stored.group) == (
        "servers", "servers/web", "DESC", "infra",
    )
    assert (stored.item_title, stored.item_content) == ("{name}", "{value}")
    with pytest.raises(DuplicateName):
        await create_display(db, spec)
    other = await create_display(db, DisplaySpec(name="jobs", path="jobs"))
    assert [d.name for d in await list_displays(db)] == ["jobs", "servers"]
    assert await update_display(db, other, DisplaySpec(name="tasks", path="tasks", order="ASC"))
    assert (await get_display(db, other)).name == "tasks"  # type: ignore[union-attr]
    assert await delete_display(db, display_id)
    assert not await delete_display(db, display_id)
    assert not await update_display(db, display_id, spec)
