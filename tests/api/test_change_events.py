"""The events API commands publish (api/change_events.py): which object id they carry, and when
nothing is published. Every event type on a real node: tests/e2e/test_definition_events.py."""

from __future__ import annotations

import pytest

from evqueue.api import git, instance
from evqueue.api.change_events import CHANGE_EVENTS, publishing
from evqueue.api.context import Services
from evqueue.api.modules import all_tables
from evqueue.engine import Event, EventBus, EventType
from evqueue.storage import users as user_store
from tests.api.helpers import DEFINITION_MODULES, Api, b64, plain_user, wf_xml

pytestmark = pytest.mark.backends

E = EventType


@pytest.fixture
async def api(db) -> Api:
    api = Api(db, DEFINITION_MODULES)
    bus = EventBus()
    api.ctx.services = Services(events=bus)
    api.events: list[Event] = []  # type: ignore[attr-defined]
    bus.subscribe(api.events.append)  # type: ignore[attr-defined]
    return api


def events(api: Api) -> list[Event]:
    """The events published since the last call."""
    seen = list(api.events)  # type: ignore[attr-defined]
    api.events.clear()  # type: ignore[attr-defined]
    return seen


async def test_a_workflow_named_by_name_carries_its_id_even_once_deleted(api: Api) -> None:
    root = await api.ok(f"<workflow action='create' name='w' content='{b64(wf_xml())}'/>")
    wid = int(root.get("workflow-id"))
    assert events(api) == [Event(E.WORKFLOW_CREATED, wid), Event(E.WORKFLOW_SUBSCRIBED, wid)]
    await api.ok(f"<workflow action='edit' name='w' content='{b64(wf_xml('other'))}'/>")
    assert events(api) == [Event(E.WORKFLOW_MODIFIED, wid)]
    await api.ok("<workflow action='delete' name='w'/>")
    assert events(api) == [Event(E.WORKFLOW_REMOVED, wid)]


async def test_a_failed_command_publishes_nothing(api: Api) -> None:
    await api.ko("<workflow action='delete' name='nothing'/>", "UKNOWN_OBJECT")
    await api.ko("<queue action='create' name='q' concurrency='0' scheduler='fifo' "
                 "dynamic='no'/>", "INVALID_PARAMETER")
    await api.ko("<tag action='create' label='x'/>", "INSUFFICIENT_RIGHTS",
                 as_user=plain_user())
    assert events(api) == []


async def test_objects_evqueue_does_not_name_carry_0(api: Api) -> None:
    qid = (await api.ok("<queue action='create' name='q' concurrency='1' scheduler='fifo' "
                        "dynamic='no'/>")).get("queue-id")
    await api.ok(f"<queue action='delete' id='{qid}'/>")
    tid = (await api.ok("<tag action='create' label='prod'/>")).get("tag-id")
    await api.ok(f"<tag action='edit' id='{tid}' label='production'/>")
    assert events(api) == [Event(E.QUEUE_CREATED), Event(E.QUEUE_REMOVED),
                           Event(E.TAG_CREATED), Event(E.TAG_MODIFIED)]


async def test_a_user_named_by_name_and_a_launcher_grantee_carry_the_user_id(api: Api,
                                                                             db) -> None:
    uid = int((await api.ok("<user action='create' name='bob' password='pw' "
                            "profile='USER'/>")).get("user-id"))
    await api.ok("<user action='change_password' name='bob' password='new'/>")
    wid = int((await api.ok(f"<workflow action='create' name='w' "
                            f"content='{b64(wf_xml())}'/>")).get("workflow-id"))
    lid = int((await api.ok(f"<launcher action='create' name='l' user='' host='' "
                            f"parameters='{{}}' workflow_id='{wid}'/>")).get("launcher-id"))
    events(api)
    await api.ok(f"<launcher action='grant' user_id='{uid}' launcher_id='{lid}'/>")
    await api.ok("<user action='delete' name='bob'/>")
    assert await user_store.get_user(db, uid) is None
    assert events(api) == [Event(E.USER_MODIFIED, uid), Event(E.USER_REMOVED, uid)]


async def test_a_variable_carries_its_id_when_created_by_path_and_when_unset(api: Api) -> None:
    await api.ok("<storage action='set' path='app/hosts' type='STRING' structure='NONE' "
                 "value='&quot;web1&quot;'/>")
    [created] = events(api)
    assert created.type == E.VARIABLE_SET and created.object_id > 0
    await api.ok("<storage action='set' path='app' name='hosts' value='&quot;web2&quot;'/>")
    await api.ok("<storage action='unset' path='app' name='hosts'/>")
    assert events(api) == [Event(E.VARIABLE_SET, created.object_id),
                           Event(E.VARIABLE_UNSET, created.object_id)]


async def test_a_node_without_a_bus_still_answers(db) -> None:
    api = Api(db, DEFINITION_MODULES)
    await api.ok("<tag action='create' label='quiet'/>")


def test_every_command_of_the_table_is_a_command_a_node_serves() -> None:
    served = {(r.group, r.action) for t in [*all_tables(), git.routes] for r in t.routes}
    assert set(CHANGE_EVENTS) <= served
    assert ("instance", "tag") in CHANGE_EVENTS


def test_wrapping_keeps_every_route_and_leaves_the_tables_given_alone() -> None:
    tables = [instance.routes, git.routes]
    wrapped = publishing(tables)
    assert [[(r.group, r.action, r.modifies) for r in t.routes] for t in wrapped] == [
        [(r.group, r.action, r.modifies) for r in t.routes] for t in tables]
    assert [t.admin_groups for t in wrapped] == [t.admin_groups for t in tables]
    tag_route = next(r for r in instance.routes.routes if r.action == "tag")
    assert tag_route.handler is instance.tag
