"""Launchers and displays of the storage module through the API, on every backend."""

from __future__ import annotations

import pytest

from evqueue.api import storage_module, workflow
from evqueue.api.dispatch import Dispatcher
from evqueue.storage import storage_module as store
from evqueue.storage import users as user_store
from tests.api.helpers import Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends


@pytest.fixture
async def api(db):
    api = Api(db, [storage_module, workflow])
    root = await api.ok(f"<workflow action='create' name='w' content='{b64(wf_xml())}'/>")
    api.ids["w"] = int(root.get("workflow-id"))
    api.changed.clear()
    return api


def launcher(wid: int, action: str = "create", **attrs: str | None) -> str:
    fields = {"name": "deploy", "group": "ops", "description": "Deploy it", "user": "u/path",
              "host": "h/path", "parameters": '{"env": "v/env"}', "workflow_id": str(wid),
              **attrs}
    text = " ".join(f"{key}='{value}'" for key, value in fields.items() if value is not None)
    return f"<launcher action='{action}' {text}/>"


async def test_launcher_lifecycle(api: Api, db) -> None:
    wid = api.ids["w"]
    launcher_id = int((await api.ok(launcher(wid))).get("launcher-id"))
    assert await api.raw(f"<launcher action='get' id='{launcher_id}'/>") == (
        '<response description="Deploy it" group="ops" host="h/path" name="deploy" '
        'node="node1" parameters="{&quot;env&quot;: &quot;v/env&quot;}" status="OK" '
        f'user="u/path" workflow_id="{wid}"/>'
    ).encode()
    await api.ok(launcher(wid, "edit", id=str(launcher_id), name="deploy2", group=None,
                          description=None))
    row = await store.get_launcher(db, launcher_id)
    assert (row.name, row.group, row.description) == ("deploy2", "", "")
    await api.ok(launcher(wid, name="another"))
    listed = await api.ok("<launchers action='list'/>")
    assert [n.get("name") for n in listed] == ["another", "deploy2"]
    assert listed[1].attrib == {"id": str(launcher_id), "name": "deploy2", "group": "",
                                "description": ""}

    # Access control: grant, list filtered, get allowed, revoke.
    bob = await user_store.create_user(db, "bob", "pw")
    await api.ok(f"<launcher action='grant' user_id='{bob}' launcher_id='{launcher_id}'/>")
    rights = await user_store.list_module_rights(db, bob, "storage", "launcher")
    assert [r.object_id for r in rights] == [launcher_id]
    session_user = plain_user(bob, modules=[("storage", "launcher", launcher_id)])
    visible = await api.ok("<launchers action='list'/>", as_user=session_user)
    assert [n.get("name") for n in visible] == ["deploy2"]
    await api.ok(f"<launcher action='get' id='{launcher_id}'/>", as_user=session_user)
    await api.ok(f"<launcher action='revoke' user_id='{bob}' launcher_id='{launcher_id}'/>")
    await api.ko(f"<launcher action='revoke' user_id='{bob}' launcher_id='{launcher_id}'/>",
                 "ALREADY_NO_RIGHTS", "No right found on that launcher")

    await user_store.grant_module_right(db, bob, "storage", "launcher", launcher_id)
    await api.ok(f"<launcher action='delete' id='{launcher_id}'/>")
    assert await store.get_launcher(db, launcher_id) is None
    assert await user_store.list_module_rights(db, bob) == []
    assert api.changed == ["launchers", "launchers", "launchers", "users", "users",
                           "launchers", "users"]


async def test_launch_is_left_to_the_engine(api: Api) -> None:
    dispatcher = Dispatcher([storage_module.routes])
    assert ("launcher", "launch") not in dispatcher.routes
    assert {group for group, _ in dispatcher.routes} == {
        "storage", "launcher", "launchers", "display", "displays"}


async def test_launcher_errors(api: Api, db) -> None:
    wid = api.ids["w"]
    launcher_id = int((await api.ok(launcher(wid))).get("launcher-id"))
    bob = await user_store.create_user(db, "bob", "pw")
    api.changed.clear()
    cases = [
        (launcher(wid, name=None), "MISSING_PARAMETER", "Missing 'name' attribute"),
        (launcher(wid, user=None), "MISSING_PARAMETER", "Missing 'user' attribute"),
        (launcher(wid, host=None), "MISSING_PARAMETER", "Missing 'host' attribute"),
        (launcher(wid, parameters=None), "MISSING_PARAMETER", "Missing 'parameters' attribute"),
        (launcher(wid, workflow_id=None), "MISSING_PARAMETER",
         "Missing 'workflow_id' attribute"),
        (launcher(wid, name=""), "INVALID_PARAMETER", "Name cannot be empty"),
        (launcher(wid, name="n" * 65), "INVALID_PARAMETER", "Name is too long"),
        (launcher(wid, group="g" * 65), "INVALID_PARAMETER", "Group is too long"),
        (launcher(wid, workflow_id="999999"), "UNKNOWN_OBJECT", "Unknown Workflow ID : 999999"),
        (launcher(wid, user="u" * 65), "INVALID_PARAMETER", "User variable path is too long"),
        (launcher(wid, host="h" * 65), "INVALID_PARAMETER", "Host variable path is too long"),
        (launcher(wid, parameters="{"), "INVALID_PARAMETER", "Invalid json in parameters"),
        (launcher(wid), "INVALID_PARAMETER", "Launcher « deploy » already exists"),
        (launcher(wid, "edit", id="999999"), "UNKNOWN_LAUNCHER", "Launcher not found"),
        ("<launcher action='get' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown Launcher ID : 999999"),
        ("<launcher action='delete' id='999999'/>", "UNKNOWN_LAUNCHER", "Launcher not found"),
        (f"<launcher action='grant' user_id='999999' launcher_id='{launcher_id}'/>",
         "UNKNOWN_OBJECT", "Unknown User ID : 999999"),
        (f"<launcher action='grant' user_id='{bob}' launcher_id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown Launcher ID : 999999"),
        (f"<launcher action='revoke' user_id='{bob}'/>", "MISSING_PARAMETER",
         "Missing 'launcher_id' attribute"),
        ("<launcher action='launch' id='1'/>", "UNKNOWN_COMMAND", "Unknown command or action"),
    ]
    for xml, code, message in cases:
        await api.ko(xml, code, message)
    assert api.changed == []


def display(action: str = "create", **attrs: str | None) -> str:
    fields = {"name": "board", "group": "ops", "path": "app/status", "order": "DESC",
              "item_title": "**{name}**", "item_content": "{value}", **attrs}
    text = " ".join(f"{key}='{value}'" for key, value in fields.items() if value is not None)
    return f"<display action='{action}' {text}/>"


async def test_display_lifecycle(api: Api, db) -> None:
    display_id = int((await api.ok(display())).get("display-id"))
    assert await api.raw(f"<display action='get' id='{display_id}'/>") == (
        b'<response group="ops" item_content="{value}" item_title="**{name}**" name="board" '
        b'node="node1" order="DESC" path="app/status" status="OK"/>'
    )
    await api.ok(display("edit", id=str(display_id), order="ASC", group="a"))
    assert (await store.get_display(db, display_id)).order == "ASC"
    await api.ok(display(name="zz", group="b"))
    await api.ok(display(name="aa", group="b"))
    assert [(n.get("name"), n.get("group")) for n in await api.ok("<displays action='list'/>")] \
        == [("aa", "b"), ("board", "a"), ("zz", "b")]
    groups = await api.ok("<displays action='listgroups'/>")
    assert [dict(g.attrib) for g in groups] == [{"name": "a"}, {"name": "b"}]
    await api.ok(f"<display action='delete' id='{display_id}'/>")
    assert await store.get_display(db, display_id) is None
    assert api.changed == ["displays"] * 5


async def test_display_errors(api: Api) -> None:
    display_id = int((await api.ok(display())).get("display-id"))
    api.changed.clear()
    cases = [
        (display(name=None), "MISSING_PARAMETER", "Missing 'name' attribute"),
        (display(path=None), "MISSING_PARAMETER", "Missing 'path' attribute"),
        (display(order=None), "MISSING_PARAMETER", "Missing 'order' attribute"),
        (display(item_title=None), "MISSING_PARAMETER", "Missing 'item_title' attribute"),
        (display(item_content=None), "MISSING_PARAMETER", "Missing 'item_content' attribute"),
        (display(name=""), "INVALID_PARAMETER", "Name cannot be empty"),
        (display(name="n" * 65), "INVALID_PARAMETER", "Name is too long"),
        (display(group="g" * 65), "INVALID_PARAMETER", "Group is too long"),
        (display(order="UP"), "INVALID_PARAMETER", "Order must be ASC or DESC"),
        (display(path=""), "INVALID_PARAMETER", "Variable path can't be empty"),
        (display(path="p" * 256), "INVALID_PARAMETER", "Variable path is too long"),
        (display(item_title=""), "INVALID_PARAMETER", "Item title can't be empty"),
        (display(item_title="t" * 129), "INVALID_PARAMETER", "Item title is too long"),
        (display(item_content=""), "INVALID_PARAMETER", "Item content can't be empty"),
        (display(), "INVALID_PARAMETER", "Display « board » already exists"),
        (display("edit", id="999999"), "UNKNOWN_DISPLAY", "Display not found"),
        (display("edit", id="x"), "INVALID_INTEGER", "Attribute 'id' has invalid integer value"),
        ("<display action='get' id='999999'/>", "UNKNOWN_OBJECT", "Unknown Display ID : 999999"),
        ("<display action='delete' id='999999'/>", "UNKNOWN_DISPLAY", "Display not found"),
    ]
    for xml, code, message in cases:
        await api.ko(xml, code, message)
    await api.ok(display(name="second"))
    await api.ko(display("edit", id=str(display_id), name="second"), "INVALID_PARAMETER",
                 "Display « second » already exists")


async def test_rights(api: Api) -> None:
    wid = api.ids["w"]
    launcher_id = int((await api.ok(launcher(wid))).get("launcher-id"))
    display_id = int((await api.ok(display())).get("display-id"))
    user = plain_user()
    for xml in (launcher(wid, name="x"), launcher(wid, "edit", id=str(launcher_id)),
                f"<launcher action='delete' id='{launcher_id}'/>",
                f"<launcher action='get' id='{launcher_id}'/>",
                f"<launcher action='grant' user_id='1' launcher_id='{launcher_id}'/>",
                f"<launcher action='revoke' user_id='1' launcher_id='{launcher_id}'/>",
                display(name="x"), display("edit", id=str(display_id)),
                f"<display action='delete' id='{display_id}'/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
    assert len(await api.ok("<launchers action='list'/>", as_user=user)) == 0
    await api.ok(f"<display action='get' id='{display_id}'/>", as_user=user)
    assert len(await api.ok("<displays action='list'/>", as_user=user)) == 1
    assert len(await api.ok("<displays action='listgroups'/>", as_user=user)) == 1
