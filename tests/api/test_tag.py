"""``tag`` / ``tags``: tag labels through the API, on every backend."""

from __future__ import annotations

import pytest

from evqueue.api import tag
from evqueue.storage import tags as store
from tests.api.helpers import Api, plain_user

pytestmark = pytest.mark.backends


@pytest.fixture
def api(db):
    return Api(db, [tag])


async def test_lifecycle(api: Api, db) -> None:
    prod = int((await api.ok("<tag action='create' label='prod'/>")).get("tag-id"))
    assert api.changed == ["tags"]
    # An existing label gives its id back and changes nothing.
    assert (await api.ok("<tag action='create' label='prod'/>")).get("tag-id") == str(prod)
    assert api.changed == ["tags"]
    assert await api.raw(f"<tag action='get' id='{prod}'/>") == (
        b'<response node="node1" status="OK"><tag label="prod"/></response>'
    )
    await api.ok(f"<tag action='edit' id='{prod}' label='production'/>")
    await api.ok("<tag action='create' label='Alpha beta'/>")
    listed = await api.ok("<tags action='list'/>")
    assert [n.get("label") for n in listed] == ["Alpha beta", "production"]
    assert listed[1].attrib == {"id": str(prod), "label": "production"}
    await api.ok(f"<tag action='delete' id='{prod}'/>")
    assert await store.get_tag(db, prod) is None
    assert api.changed == ["tags"] * 4


async def test_errors(api: Api) -> None:
    taken = int((await api.ok("<tag action='create' label='taken'/>")).get("tag-id"))
    other = int((await api.ok("<tag action='create' label='other'/>")).get("tag-id"))
    cases = [
        ("<tag action='create'/>", "MISSING_PARAMETER", "Missing 'label' attribute"),
        ("<tag action='create' label=''/>", "INVALID_PARAMETER", "Invalid tag label"),
        (f"<tag action='create' label='{'l' * 65}'/>", "INVALID_PARAMETER", "Invalid tag label"),
        ("<tag action='get' id='999999'/>", "UNKNOWN_OBJECT", "Unknown Tag ID : 999999"),
        ("<tag action='get' id='t'/>", "INVALID_INTEGER",
         "Attribute 'id' has invalid integer value"),
        ("<tag action='edit' id='999999' label='x'/>", "UNKNOWN_TAG", "Tag not found"),
        (f"<tag action='edit' id='{other}' label=''/>", "INVALID_PARAMETER", "Invalid tag label"),
        (f"<tag action='edit' id='{other}' label='taken'/>", "INVALID_PARAMETER",
         "Tag label 'taken' already exists"),
        ("<tag action='delete' id='999999'/>", "UNKNOWN_TAG", "Tag not found"),
    ]
    for xml, code, message in cases:
        await api.ko(xml, code, message)
    assert taken != other
    assert api.changed == ["tags", "tags"]


async def test_rights(api: Api) -> None:
    user = plain_user()
    for xml in ("<tag action='get' id='1'/>", "<tag action='create' label='x'/>",
                "<tag action='edit' id='1' label='y'/>", "<tag action='delete' id='1'/>",
                "<tags action='list'/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
