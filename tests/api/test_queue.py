"""``queue`` / ``queuepool``: queue definitions through the API, on every backend."""

from __future__ import annotations

import pytest

from evqueue.api import queue
from evqueue.storage import queues as store
from tests.api.helpers import Api, plain_user

pytestmark = pytest.mark.backends


@pytest.fixture
def api(db):
    return Api(db, [queue])


async def test_lifecycle(api: Api, db) -> None:
    root = await api.ok("<queue action='create' name='q1@host.x-y' concurrency='4' "
                        "scheduler='prio' dynamic='yes'/>")
    queue_id = int(root.get("queue-id"))
    assert api.changed == ["queuepool"]
    assert await api.raw(f"<queue action='get' id='{queue_id}'/>") == (
        f'<response node="node1" status="OK"><queue concurrency="4" dynamic="yes" '
        f'id="{queue_id}" name="q1@host.x-y" scheduler="prio"/></response>'
    ).encode()

    await api.ok(f"<queue action='edit' id='{queue_id}' name='q2' concurrency='1' "
                 "scheduler='default' dynamic='0'/>")
    row = await store.get_queue(db, queue_id)
    assert (row.name, row.concurrency, row.scheduler, row.dynamic) == ("q2", 1, "default", False)

    listed = await api.ok("<queuepool action='list'/>")
    default_id = (await store.get_queue_by_name(db, "default")).id
    assert [dict(node.attrib) for node in listed] == [
        {"id": str(default_id), "name": "default", "concurrency": "1", "scheduler": "default",
         "dynamic": "no"},
        {"id": str(queue_id), "name": "q2", "concurrency": "1", "scheduler": "default",
         "dynamic": "no"},
    ]
    await api.ok(f"<queue action='delete' id='{queue_id}'/>")
    assert await store.get_queue(db, queue_id) is None
    assert api.changed == ["queuepool"] * 3


async def test_errors(api: Api, db) -> None:
    default_id = (await store.get_queue_by_name(db, "default")).id

    def create(**attrs: str) -> str:
        fields = {"name": "q", "concurrency": "2", "scheduler": "fifo", "dynamic": "no", **attrs}
        text = " ".join(f"{key}='{value}'" for key, value in fields.items() if value is not None)
        return f"<queue action='create' {text}/>"

    cases = [
        (create(name=None), "MISSING_PARAMETER", "Missing 'name' attribute"),
        (create(concurrency=None), "MISSING_PARAMETER", "Missing 'concurrency' attribute"),
        (create(scheduler=None), "MISSING_PARAMETER", "Missing 'scheduler' attribute"),
        (create(dynamic=None), "MISSING_PARAMETER", "Missing 'dynamic' attribute"),
        (create(concurrency="x"), "INVALID_INTEGER",
         "Attribute 'concurrency' has invalid integer value"),
        (create(dynamic="maybe"), "INVALID_BOOLEAN",
         "Attribute 'dynamic' has invalid boolean value"),
        (create(name="a b"), "INVALID_PARAMETER", "Invalid queue name"),
        (create(name=""), "INVALID_PARAMETER", "Invalid queue name"),
        (create(name="q" * 65), "INVALID_PARAMETER", "Invalid queue name"),
        (create(concurrency="0"), "INVALID_PARAMETER",
         "Invalid concurrency, must be greater than 0"),
        (create(scheduler="lifo"), "INVALID_PARAMETER",
         "Invalid scheduler name, must be 'prio', 'fifo' or 'default'"),
        (create(name="default"), "INVALID_PARAMETER", "Queue name 'default' already exists"),
        ("<queue action='get' id='999999'/>", "UNKNOWN_OBJECT", "Unable to find queue"),
        ("<queue action='get'/>", "MISSING_PARAMETER", "Missing 'id' attribute"),
        ("<queue action='edit' id='999999' name='q' concurrency='1' scheduler='fifo' "
         "dynamic='no'/>",
         "UNKNOWN_QUEUE", "Unable to find queue"),
        ("<queue action='delete' id='999999'/>", "UNKNOWN_QUEUE", "Unable to find queue"),
        ("<queue action='nope'/>", "UNKNOWN_COMMAND", "Unknown command or action"),
    ]
    for xml, code, message in cases:
        await api.ko(xml, code, message)
    await api.ok(create(name="other"))
    await api.ko(f"<queue action='edit' id='{default_id}' name='other' concurrency='1' "
                 "scheduler='fifo' dynamic='no'/>", "INVALID_PARAMETER",
                 "Queue name 'other' already exists")
    assert api.changed == ["queuepool"]


async def test_rights(api: Api) -> None:
    user = plain_user()
    for xml in ("<queue action='get' id='1'/>",
                "<queue action='create' name='q' concurrency='1' scheduler='fifo' dynamic='no'/>",
                "<queue action='edit' id='1' name='q' concurrency='1' scheduler='fifo' "
                "dynamic='no'/>",
                "<queue action='delete' id='1'/>",
                "<queue action='unknown'/>",
                "<queue/>"):
        await api.ko(xml, "INSUFFICIENT_RIGHTS", "insufficient rights", as_user=user)
    listed = await api.ok("<queuepool action='list'/>", as_user=user)
    assert [node.get("name") for node in listed] == ["default"]
