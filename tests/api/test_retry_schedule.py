"""``retry_schedule`` / ``retry_schedules`` through the API, on every backend."""

from __future__ import annotations

import pytest

from evqueue.api import retry_schedule, workflow
from tests.api.helpers import Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends

SHORT = '<schedule><level retry_delay="10" retry_times="3"/><level retry_delay="600" ' \
        'retry_times="2"/></schedule>'

ZERO_DELAY = b64('<schedule><level retry_delay="0" retry_times="1"/></schedule>')


@pytest.fixture
def api(db):
    return Api(db, [retry_schedule, workflow])


async def test_lifecycle(api: Api) -> None:
    root = await api.ok(f"<retry_schedule action='create' name='short' content='{b64(SHORT)}'/>")
    schedule_id = int(root.get("retry-schedule-id"))
    assert api.changed == ["retry_schedules"]
    assert await api.raw(f"<retry_schedule action='get' id='{schedule_id}'/>") == (
        f'<response node="node1" status="OK"><schedule id="{schedule_id}" name="short">'
        '<level retry_delay="10" retry_times="3"/><level retry_delay="600" retry_times="2"/>'
        "</schedule></response>"
    ).encode()

    # A workflow may now name it.
    content = b64(wf_xml(extra=' retry_schedule="short"'))
    await api.ok(f"<workflow action='create' name='w' content='{content}'/>")

    once = b64('<schedule>\n  <level retry_delay="5" retry_times="1"/>\n</schedule>')
    await api.ok(f"<retry_schedule action='edit' id='{schedule_id}' name='once' "
                 f"content='{once}'/>")
    await api.ok(f"<retry_schedule action='create' name='a' content='{b64(SHORT)}'/>")
    listed = await api.ok("<retry_schedules action='list'/>")
    assert [(node.get("name"), len(node)) for node in listed] == [("a", 2), ("once", 1)]
    assert listed[1][0].attrib == {"retry_delay": "5", "retry_times": "1"}

    await api.ok(f"<retry_schedule action='delete' id='{schedule_id}'/>")
    assert [node.get("name") for node in await api.ok("<retry_schedules action='list'/>")] == [
        "a"
    ]
    assert api.changed.count("retry_schedules") == 4


async def test_errors(api: Api) -> None:
    good = b64(SHORT)
    await api.ok(f"<retry_schedule action='create' name='taken' content='{good}'/>")
    cases = [
        ("<retry_schedule action='create' content='x'/>", "MISSING_PARAMETER",
         "Missing 'name' attribute"),
        ("<retry_schedule action='create' name='n'/>", "MISSING_PARAMETER",
         "Missing 'content' attribute"),
        (f"<retry_schedule action='create' name='a b' content='{good}'/>", "INVALID_PARAMETER",
         "Invalid retry schedule name"),
        (f"<retry_schedule action='create' name='' content='{good}'/>", "INVALID_PARAMETER",
         "Invalid retry schedule name"),
        ("<retry_schedule action='create' name='n' content='%%%'/>", "INVALID_PARAMETER",
         "Invalid base64 sequence"),
        (f"<retry_schedule action='create' name='n' content='{b64('<schedule>')}'/>",
         "INVALID_XML", None),
        (f"<retry_schedule action='create' name='n' content='{b64('<schedule/>')}'/>",
         "INVALID_XML", None),
        (f"<retry_schedule action='create' name='n' content='{ZERO_DELAY}'/>",
         "INVALID_XML", None),
        (f"<retry_schedule action='create' name='taken' content='{good}'/>",
         "INVALID_PARAMETER", "Retry schedule name 'taken' already exists"),
        ("<retry_schedule action='get' id='999999'/>", "UNKNOWN_OBJECT",
         "Unknown RetrySchedule ID : 999999"),
        ("<retry_schedule action='get' id='x'/>", "INVALID_INTEGER",
         "Attribute 'id' has invalid integer value"),
        (f"<retry_schedule action='edit' id='999999' name='n' content='{good}'/>",
         "UNKNOWN_RETRY_SCHEDULE", "Retry schedule not found"),
        ("<retry_schedule action='delete' id='999999'/>", "UNKNOWN_RETRY_SCHEDULE",
         "Retry schedule not found"),
    ]
    for xml, code, message in cases:
        root = await api.ko(xml, code, message)
        assert root.get("error")
    assert api.changed == ["retry_schedules"]


async def test_rights(api: Api) -> None:
    user = plain_user()
    for xml in ("<retry_schedule action='get' id='1'/>",
                f"<retry_schedule action='create' name='n' content='{b64(SHORT)}'/>",
                f"<retry_schedule action='edit' id='1' name='n' content='{b64(SHORT)}'/>",
                "<retry_schedule action='delete' id='1'/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
    await api.ok(f"<retry_schedule action='create' name='n' content='{b64(SHORT)}'/>")
    listed = await api.ok("<retry_schedules action='list'/>", as_user=user)
    assert [node.get("name") for node in listed] == ["n"]
