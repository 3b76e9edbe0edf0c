"""``workflow`` / ``workflows``: definitions through the API, on every backend."""

from __future__ import annotations

import pytest
from lxml import etree

from evqueue.api.session import WorkflowRights
from evqueue.storage import notifications as notification_store
from evqueue.storage import users as user_store
from evqueue.storage import workflow_schedules as schedule_store
from tests.api.helpers import Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends

# protocol.md E3, byte for byte.
E3_CONTENT = (
    "PHdvcmtmbG93PjxwYXJhbWV0ZXJzPjxwYXJhbWV0ZXIgbmFtZT0iZHVyYXRpb24iLz48L3BhcmFtZXRlcnM+PHN1Ym"
    "pvYnM+PGpvYiBuYW1lPSJqMSI+PHRhc2tzPjx0YXNrIHR5cGU9IkJJTkFSWSIgcGF0aD0iL2Jpbi9zbGVlcCIgbmFt"
    "ZT0ic2xlZXAiIHF1ZXVlPSJkZWZhdWx0Ij48aW5wdXQgbmFtZT0iZCI+PHZhbHVlIHNlbGVjdD0iL3dvcmtmbG93L3"
    "BhcmFtZXRlcnMvcGFyYW1ldGVyW0BuYW1lPSdkdXJhdGlvbiddIi8+PC9pbnB1dD48L3Rhc2s+PC90YXNrcz48L2pv"
    "Yj48L3N1YmpvYnM+PC93b3JrZmxvdz4="
)


RETRY_XML = b64(wf_xml(extra=' retry_schedule="nosuch"'))
BAD_XPATH_XML = b64(wf_xml(extra=' condition="1 +"'))


@pytest.fixture
def api(db):
    return Api(db)


async def create(api: Api, name: str, xml: str | None = None, **attrs: str) -> int:
    extra = "".join(f" {key}='{value}'" for key, value in attrs.items())
    root = await api.ok(
        f"<workflow action='create' name='{name}' content='{b64(xml or wf_xml())}'{extra}/>"
    )
    return int(root.get("workflow-id"))


async def test_e3_create_then_list_and_get(api: Api) -> None:
    raw = await api.raw(
        f"<workflow action='create' name='sleeper' group='demo' comment='test wf' "
        f"content='{E3_CONTENT}' />"
    )
    workflow_id = int(etree.fromstring(raw).get("workflow-id"))
    assert raw == f'<response node="node1" status="OK" workflow-id="{workflow_id}"/>'.encode()
    assert api.changed == ["workflows"]
    assert await api.raw("<workflows action='list' />") == (
        '<response node="node1" status="OK"><workflow comment="test wf" group="demo" '
        f'id="{workflow_id}" lastcommit="" name="sleeper"/></response>'
    ).encode()

    got = (await api.ok("<workflow action='get' name='sleeper'/>"))[0]
    assert (got.tag, dict(got.attrib)) == ("workflow", {
        "comment": "test wf", "group": "demo", "id": str(workflow_id), "name": "sleeper"})
    (definition,) = got
    assert definition.tag == "workflow"
    assert definition.find("subjobs/job/tasks/task").get("path") == "/bin/sleep"
    by_id = (await api.ok(f"<workflow action='get' id='{workflow_id}'/>"))[0]
    assert by_id.get("name") == "sleeper"

    full = await api.ok("<workflows action='list' full='yes'/>")
    (listed,) = full
    assert listed.get("lastcommit") == "" and listed.find("parameters/parameter") is not None


async def test_list_is_sorted_by_name_in_code_point_order(api: Api) -> None:
    for name in ("b", "C", "a_1", "A"):
        await create(api, name)
    root = await api.ok("<workflows action='list'/>")
    assert [node.get("name") for node in root] == ["A", "C", "a_1", "b"]


CREATE_ERRORS = [
    ("<workflow action='create' content='x'/>", "MISSING_PARAMETER", "Missing 'name' attribute"),
    ("<workflow action='create' name='w'/>", "MISSING_PARAMETER", "Missing 'content' attribute"),
    (f"<workflow action='create' name='' content='{b64(wf_xml())}'/>", "INVALID_PARAMETER",
     "Workflow name cannot be empty"),
    (f"<workflow action='create' name='a b' content='{b64(wf_xml())}'/>", "INVALID_PARAMETER",
     "Invalid workflow name"),
    (f"<workflow action='create' name='{'x' * 65}' content='{b64(wf_xml())}'/>",
     "INVALID_PARAMETER", "Invalid workflow name"),
    ("<workflow action='create' name='w' content='not base64!'/>", "INVALID_PARAMETER",
     "Invalid base64 sequence"),
    (f"<workflow action='create' name='w' content='{b64('<workflow>')}'/>", "INVALID_XML",
     None),
    (f"<workflow action='create' name='w' content='{b64('<workflow><subjobs/></workflow>')}'/>",
     "INVALID_XML", None),
    (f"<workflow action='create' name='w' content='{BAD_XPATH_XML}'/>",
     "INVALID_XML", None),
    (f"<workflow action='create' name='w' group='{'g' * 65}' content='{b64(wf_xml())}'/>",
     "INVALID_PARAMETER", "Workflow group is too long"),
]


async def test_queues_and_retry_schedules_named_need_not_exist_yet(api: Api) -> None:
    # As in evQueue: a definition exported before its queues were created must load.
    await api.ok(f"<workflow action='create' name='w' content='{b64(wf_xml('later'))}'/>")
    await api.ok(f"<workflow action='create' name='r' content='{RETRY_XML}'/>")
    root = await api.ok("<workflows action='list'/>")
    assert [node.get("name") for node in root] == ["r", "w"]


async def test_create_refuses_bad_requests(api: Api) -> None:
    for xml, code, message in CREATE_ERRORS:
        root = await api.ko(xml, code, message)
        assert root.get("error")
    assert await api.raw("<workflows action='list'/>") == b'<response node="node1" status="OK"/>'
    assert api.changed == []


async def test_create_checks_xpath_and_explains(api: Api) -> None:
    content = b64(wf_xml(extra=' condition="count(" '))
    root = await api.ko(f"<workflow action='create' name='w' content='{content}'/>", "INVALID_XML")
    assert root.get("error").startswith("XPath expression error in 'count('")


async def test_duplicate_names_and_lookups(api: Api) -> None:
    await create(api, "one")
    other = await create(api, "two")
    await api.ko(f"<workflow action='create' name='one' content='{b64(wf_xml())}'/>",
                 "WORKFLOW_ALREADY_EXISTS", "Workflow name already exists")
    await api.ko(f"<workflow action='edit' id='{other}' name='one' content='{b64(wf_xml())}'/>",
                 "WORKFLOW_ALREADY_EXISTS", "Workflow name already exists")
    await api.ko("<workflow action='get'/>", "MISSING_PARAMETER",
                 "Missing 'id' or 'name' attribute")
    await api.ko("<workflow action='get' id='0' name=''/>", "MISSING_PARAMETER",
                 "Missing 'id' or 'name' attribute")
    await api.ko("<workflow action='get' id='999999'/>", "UNKNOWN_OBJECT",
                 "Unknown Workflow ID : 999999")
    await api.ko("<workflow action='get' name='nosuch'/>", "UKNOWN_OBJECT",
                 "Unknown Workflow name : nosuch")
    await api.ko("<workflow action='get' name='ONE'/>", "UKNOWN_OBJECT",
                 "Unknown Workflow name : ONE")
    await api.ko("<workflow action='get' id='x'/>", "INVALID_INTEGER",
                 "Attribute 'id' has invalid integer value")
    await api.ko("<workflow action='bogus' id='1'/>", "UNKNOWN_COMMAND",
                 "Unknown command or action")
    await api.ko("<workflow id='1'/>", "MISSING_PARAMETER", "Missing 'action' attribute")
    await api.ko("<workflows action='list' full='maybe'/>", "INVALID_BOOLEAN",
                 "Attribute 'full' has invalid boolean value")


async def test_edit(api: Api) -> None:
    workflow_id = await create(api, "old", group="g1", comment="c1")
    api.changed.clear()
    new_xml = wf_xml(parameters=["p"])
    await api.ok(f"<workflow action='edit' id='{workflow_id}' name='new' group='g2' "
                 f"content='{b64(new_xml)}'/>")
    assert api.changed == ["workflows"]
    got = (await api.ok("<workflow action='get' name='new'/>"))[0]
    assert (got.get("group"), got.get("comment")) == ("g2", "")
    assert got[0].find("parameters/parameter").get("name") == "p"
    # Without id, the name both finds the workflow and stays its name.
    await api.ok(f"<workflow action='edit' name='new' comment='c3' content='{b64(new_xml)}'/>")
    assert (await api.ok("<workflow action='get' name='new'/>"))[0].get("comment") == "c3"
    await api.ko(f"<workflow action='edit' id='999999' name='x' content='{b64(new_xml)}'/>",
                 "UNKNOWN_WORKFLOW", "Workflow not found")
    await api.ko(f"<workflow action='edit' id='{workflow_id}' name='new' content='eA=='/>",
                 "INVALID_XML")
    await api.ko(f"<workflow action='edit' id='{workflow_id}' content='{b64(new_xml)}'/>",
                 "MISSING_PARAMETER", "Missing 'name' attribute")


async def test_delete_takes_schedules_and_rights_along(api: Api, db) -> None:
    workflow_id = await create(api, "doomed")
    await schedule_store.create_workflow_schedule(
        db, schedule_store.WorkflowScheduleSpec(workflow_id=workflow_id, schedule="0;0;1;;;")
    )
    user_id = await user_store.create_user(db, "bob", "pw")
    await user_store.set_right(db, user_id, workflow_id, edit=True, read=True, exec=True,
                               kill=True)
    api.changed.clear()
    await api.ok("<workflow action='delete' name='doomed'/>")
    assert api.changed == ["workflows", "scheduler", "users"]
    assert await schedule_store.list_workflow_schedules(db) == []
    assert await user_store.list_rights(db, user_id) == []
    await api.ko(f"<workflow action='delete' id='{workflow_id}'/>", "UNKNOWN_WORKFLOW",
                 "Workflow not found")
    await api.ko("<workflow action='delete' name='doomed'/>", "UKNOWN_OBJECT",
                 "Unknown Workflow name : doomed")


async def test_notification_subscriptions(api: Api, db) -> None:
    type_id = await notification_store.create_notification_type(db, "mail", "d", "<plugin/>",
                                                                 b"x")
    n1 = await notification_store.create_notification(db, type_id, "n1", False, "")
    n2 = await notification_store.create_notification(db, type_id, "n2", True, "")
    workflow_id = await create(api, "w")  # auto-subscribed to n2 (subscribe_all)
    root = await api.ok(f"<workflow action='list_notifications' id='{workflow_id}'/>")
    assert [(n.tag, dict(n.attrib)) for n in root] == [("notification", {"id": str(n2)})]

    api.changed.clear()
    await api.ok(f"<workflow action='subscribe_notification' name='w' notification_id='{n1}'/>")
    await api.ok(f"<workflow action='subscribe_notification' name='w' notification_id='{n1}'/>")
    root = await api.ok("<workflow action='list_notifications' name='w'/>")
    assert sorted(int(n.get("id")) for n in root) == sorted([n1, n2])
    await api.ok(f"<workflow action='unsubscribe_notification' name='w' notification_id='{n2}'/>")
    await api.ko(f"<workflow action='unsubscribe_notification' name='w' notification_id='{n2}'/>",
                 "UNKNOWN_NOTIFICATION", "Workflow was not subscribed to this notification")
    await api.ko("<workflow action='subscribe_notification' name='w' notification_id='999999'/>",
                 "UNKNOWN_NOTIFICATION", "Notification ID not found")
    await api.ko("<workflow action='subscribe_notification' name='w'/>", "MISSING_PARAMETER",
                 "Missing 'notification_id' attribute")
    await api.ko("<workflow action='subscribe_notification' name='w' notification_id='z'/>",
                 "INVALID_INTEGER", "Attribute 'notification_id' has invalid integer value")
    await api.ok("<workflow action='clear_notifications' name='w'/>")
    assert len(await api.ok("<workflow action='list_notifications' name='w'/>")) == 0
    assert api.changed == ["workflows"] * 4
    await api.ko("<workflow action='list_notifications' id='999999'/>", "UNKNOWN_OBJECT",
                 "Unknown Workflow ID : 999999")


async def test_rights(api: Api) -> None:
    readable = await create(api, "readable")
    hidden = await create(api, "hidden")
    nobody = plain_user()
    reader = plain_user(rights={readable: WorkflowRights(read=True)})
    editor = plain_user(rights={readable: WorkflowRights(edit=True)})
    content = b64(wf_xml())
    refused = {
        "create": f"<workflow action='create' name='x' content='{content}'/>",
        "delete": f"<workflow action='delete' id='{readable}'/>",
        "get": f"<workflow action='get' id='{readable}'/>",
        "get by name": "<workflow action='get' name='readable'/>",
        "edit": f"<workflow action='edit' id='{readable}' name='readable' content='{content}'/>",
        "subscribe": f"<workflow action='subscribe_notification' id='{readable}' "
                     "notification_id='1'/>",
        "unsubscribe": f"<workflow action='unsubscribe_notification' id='{readable}' "
                       "notification_id='1'/>",
        "clear": f"<workflow action='clear_notifications' id='{readable}'/>",
        "list notifications": f"<workflow action='list_notifications' id='{readable}'/>",
    }
    for xml in refused.values():
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=nobody)
    assert len(await api.ok("<workflows action='list'/>", as_user=nobody)) == 0

    # read on one workflow: list/get that one, nothing more.
    listed = await api.ok("<workflows action='list' full='yes'/>", as_user=reader)
    assert [node.get("name") for node in listed] == ["readable"]
    await api.ok(refused["get"], as_user=reader)
    await api.ok(refused["get by name"], as_user=reader)
    await api.ok(refused["list notifications"], as_user=reader)
    for action in ("create", "delete", "edit", "subscribe", "unsubscribe", "clear"):
        await api.ko(refused[action], "INSUFFICIENT_RIGHTS", as_user=reader)
    await api.ko(f"<workflow action='get' id='{hidden}'/>", "INSUFFICIENT_RIGHTS",
                 as_user=reader)
    await api.ko("<workflow action='get' id='999999'/>", "INSUFFICIENT_RIGHTS", as_user=reader)

    # edit right: edit and subscriptions, but no read.
    await api.ok(refused["edit"], as_user=editor)
    await api.ok(refused["clear"], as_user=editor)
    await api.ko(refused["get"], "INSUFFICIENT_RIGHTS", as_user=editor)
    await api.ko(refused["delete"], "INSUFFICIENT_RIGHTS", as_user=editor)
