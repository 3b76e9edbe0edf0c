"""``workflow_schedule`` / ``workflow_schedules`` through the API, on every backend."""

from __future__ import annotations

import pytest

from evqueue.api import workflow, workflow_schedule
from evqueue.api.session import WorkflowRights
from evqueue.storage import workflow_schedules as store
from tests.api.helpers import Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends


@pytest.fixture
async def api(db):
    api = Api(db, [workflow_schedule, workflow])
    content = b64(wf_xml(parameters=["a", "b"]))
    root = await api.ok(f"<workflow action='create' name='backup' group='ops' "
                        f"content='{content}'/>")
    api.ids["backup"] = int(root.get("workflow-id"))
    api.changed.clear()
    return api


PARAMS = "<parameter name='a' value='1'/><parameter name='b' value='2'/>"


async def test_lifecycle(api: Api, db) -> None:
    wid = api.ids["backup"]
    root = await api.ok(f"<workflow_schedule action='create' workflow_id='{wid}' node='node1' "
                        "schedule='0;30;2;;;' onfailure='SUSPEND' user='bob' host='h1' "
                        f"comment='nightly'>{PARAMS}<parameter name='a' value='ignored'/>"
                        "</workflow_schedule>")
    schedule_id = int(root.get("schedule-id"))
    assert api.changed == ["scheduler"]
    assert await api.raw(f"<workflow_schedule action='get' id='{schedule_id}'/>") == (
        '<response node="node1" status="OK"><workflow_schedule active="1" comment="nightly" '
        'host="h1" node="node1" onfailure="SUSPEND" schedule="0;30;2;;;" user="bob" '
        f'workflow_id="{wid}"><parameter name="a" value="1"/><parameter name="b" value="2"/>'
        "</workflow_schedule></response>"
    ).encode()

    await api.ok(f"<workflow_schedule action='edit' id='{schedule_id}' workflow_id='{wid}' "
                 f"node='any' schedule=';;;;;' onfailure='CONTINUE' active='no'>{PARAMS}"
                 "</workflow_schedule>")
    got = (await api.ok(f"<workflow_schedule action='get' id='{schedule_id}'/>"))[0]
    assert {k: got.get(k) for k in ("node", "schedule", "onfailure", "user", "host", "active",
                                    "comment")} == {
        "node": "any", "schedule": ";;;;;", "onfailure": "CONTINUE", "user": "", "host": "",
        "active": "0", "comment": ""}

    await api.ok(f"<workflow_schedule action='unlock' id='{schedule_id}'/>")
    assert (await store.get_workflow_schedule(db, schedule_id)).active is True
    await api.ok(f"<workflow_schedule action='lock' id='{schedule_id}'/>")
    assert (await store.get_workflow_schedule(db, schedule_id)).active is False

    listed = await api.ok("<workflow_schedules action='list'/>")
    assert [dict(node.attrib) for node in listed] == [{
        "id": str(schedule_id), "node": "any", "workflow_id": str(wid), "schedule": ";;;;;",
        "onfailure": "CONTINUE", "active": "0", "comment": "", "workflow_name": "backup",
        "workflow_group": "ops"}]
    assert len(listed[0]) == 0
    full = await api.ok("<workflow_schedules action='list' display_parameters='yes'/>")
    assert [dict(p.attrib) for p in full[0]] == [{"name": "a", "value": "1"},
                                                  {"name": "b", "value": "2"}]

    await api.ok(f"<workflow_schedule action='delete' id='{schedule_id}'/>")
    assert await store.list_workflow_schedules(db) == []
    assert api.changed == ["scheduler"] * 5


async def test_list_shows_user_and_host_only_when_set(api: Api) -> None:
    wid = api.ids["backup"]
    await api.ok(f"<workflow_schedule action='create' workflow_id='{wid}' node='all' "
                 f"schedule='0;0;0;;;' onfailure='CONTINUE' user='u'>{PARAMS}"
                 "</workflow_schedule>")
    (node,) = await api.ok("<workflow_schedules action='list'/>")
    assert (node.get("user"), node.get("host"), node.get("active")) == ("u", None, "1")


async def test_errors(api: Api) -> None:
    def create(body: str = PARAMS, **attrs: str | None) -> str:
        fields = {"workflow_id": str(api.ids["backup"]), "node": "n", "schedule": "0;0;0;;;",
                  "onfailure": "CONTINUE", **attrs}
        text = " ".join(f"{key}='{value}'" for key, value in fields.items() if value is not None)
        return f"<workflow_schedule action='create' {text}>{body}</workflow_schedule>"

    cases = [
        (create(workflow_id=None), "MISSING_PARAMETER", "Missing 'workflow_id' attribute"),
        (create(node=None), "MISSING_PARAMETER", "Missing 'node' attribute"),
        (create(schedule=None), "MISSING_PARAMETER", "Missing 'schedule' attribute"),
        (create(onfailure=None), "MISSING_PARAMETER", "Missing 'onfailure' attribute"),
        (create(workflow_id="w"), "INVALID_INTEGER",
         "Attribute 'workflow_id' has invalid integer value"),
        (create(active="perhaps"), "INVALID_BOOLEAN",
         "Attribute 'active' has invalid boolean value"),
        (create(onfailure="RETRY"), "INVALID_PARAMETER",
         "onfailure must be 'CONTINUE' or 'SUSPEND'"),
        (create(node=""), "INVALID_PARAMETER", "Node name cannot be empty"),
        (create(node="n" * 33), "INVALID_PARAMETER", "Node name is too long"),
        (create(schedule="*;0;0;;;"), "INVALID_SCHEDULE", None),
        (create(schedule="0;0;24;;;"), "INVALID_SCHEDULE", None),
        (create(schedule=""), "INVALID_SCHEDULE", None),
        (create(workflow_id="999999"), "UNKNOWN_OBJECT", "Unknown Workflow ID : 999999"),
        (create(body=""), "INVALID_WORKFLOW_PARAMETERS",
         "Invalid number of parameters. Workflow expects 2, but 0 are given."),
        (create(body=PARAMS + "<parameter name='c' value='3'/>"), "INVALID_WORKFLOW_PARAMETERS",
         "Unknown parameter : c"),
        ("<workflow_schedule action='get' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown WorkflowSchedule ID : 999999"),
        (create().replace("'create'", "'edit' id='999999'"), "UNKNOWN_WORKFLOW_SCHEDULE",
         "Workflow schedule not found"),
        ("<workflow_schedule action='delete' id='999999'/>", "UNKNOWN_WORKFLOW_SCHEDULE",
         "Workflow schedule not found"),
        ("<workflow_schedule action='lock' id='999999'/>", "UNKNOWN_WORKFLOW_SCHEDULE",
         "Workflow schedule not found"),
        ("<workflow_schedule action='unlock'/>", "MISSING_PARAMETER", "Missing 'id' attribute"),
        ("<workflow_schedules action='list' display_parameters='x'/>", "INVALID_BOOLEAN",
         "Attribute 'display_parameters' has invalid boolean value"),
    ]
    for xml, code, message in cases:
        root = await api.ko(xml, code, message)
        assert root.get("error")
    assert api.changed == []


async def test_rights(api: Api) -> None:
    wid = api.ids["backup"]
    user = plain_user(rights={wid: WorkflowRights(read=True, exec=True, edit=True, kill=True)})
    for xml in ("<workflow_schedule action='get' id='1'/>",
                f"<workflow_schedule action='create' workflow_id='{wid}' node='n' schedule=';;;;;' "
                f"onfailure='CONTINUE'>{PARAMS}</workflow_schedule>",
                f"<workflow_schedule action='edit' id='1' workflow_id='{wid}' node='n' "
                f"schedule=';;;;;' onfailure='CONTINUE'>{PARAMS}</workflow_schedule>",
                "<workflow_schedule action='delete' id='1'/>",
                "<workflow_schedule action='lock' id='1'/>",
                "<workflow_schedule action='unlock' id='1'/>",
                "<workflow_schedules action='list'/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
