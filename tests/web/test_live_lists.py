"""Definition lists of the web UI follow changes live, from the events the engines push.

Two tabs of headless Chromium are logged in on a two-node cluster. A queue created and edited
through the UI in one tab shows up, changed, in the other without a reload; then every other
definition list (workflows, retry schedules, workflow schedules, users, notifications and
their plugins, the tags of the history filter, variables, launchers, displays) follows an
object created, renamed and deleted through the XML API of the second node.

The tests share the two tabs and the cluster, and run in file order.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from lxml import etree
from playwright.sync_api import Browser, Locator, Page, WebSocket, expect

from evqueue.client.sync import Client
from evqueue.plugins import plugin_zip
from tests.e2e.nodes import Node, wait_for
from tests.web.browserkit import (
    TIMEOUT_MS,
    VIEWPORT,
    UiCluster,
    WireWatch,
    assert_clean,
    shot,
    start_cluster,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiCluster]:
    nodes = start_cluster(tmp_path_factory.mktemp("live-ui"))
    yield nodes
    nodes.stop()


class Subscriptions:
    """How many event subscriptions a tab holds on each node, from the frames it sent."""

    def __init__(self, page: Page) -> None:
        self.held: Counter[int] = Counter()  # by websocket port
        page.on("websocket", self._opened)

    def _opened(self, ws: WebSocket) -> None:
        port = int(ws.url.split(":")[2].split("/")[0])
        ws.on("framesent", lambda payload: self._sent(port, payload))

    def _sent(self, port: int, payload: str | bytes) -> None:
        frame = payload if isinstance(payload, str) else payload.decode(errors="replace")
        if frame.startswith('<event action="subscribe"'):
            self.held[port] += 1
        elif frame.startswith('<event action="unsubscribe"'):
            self.held[port] -= 1


@dataclass
class Tab:
    page: Page
    wire: WireWatch
    subscriptions: Subscriptions


def subscribed(tabs: tuple[Tab, Tab], cluster: UiCluster) -> None:
    """Wait until each node holds every subscription the tabs sent it, so that no change made
    next can come before the subscription that would see it (each page subscribes as it
    mounts, on every node)."""
    for node in cluster.nodes:
        assert wait_for(lambda node=node: _holds(node, tabs), timeout=TIMEOUT_MS / 1000), (
            f"{node.name} does not hold the subscriptions of the tabs")


def _holds(node: Node, tabs: tuple[Tab, Tab]) -> bool:
    for tab in tabs:
        tab.page.wait_for_timeout(20)  # lets Playwright deliver the frames sent meanwhile
    wanted = sum(tab.subscriptions.held[node.ws_port] for tab in tabs)
    with Client(f"unix://{node.socket_path}", "admin", "admin") as client:
        [stats] = client.exec("<statistics action='query' type='global'/>")
    return int(stats.get("ws_subscriptions", "-1")) == wanted


@pytest.fixture(scope="module")
def tabs(browser: Browser, cluster: UiCluster) -> Iterator[tuple[Tab, Tab]]:
    """Two tabs of one browser, each logged in as admin on the first node's UI."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    opened = []
    for _ in range(2):
        page = context.new_page()
        wire, subscriptions = WireWatch(page), Subscriptions(page)
        page.goto(cluster.url)
        by(page, "login-user").fill("admin")
        by(page, "login-password").fill("admin")
        by(page, "login-submit").click()
        expect(by(page, "current-user")).to_have_text("admin")
        opened.append(Tab(page, wire, subscriptions))
    yield opened[0], opened[1]
    context.close()


def by(page: Page, testid: str) -> Locator:
    return page.get_by_test_id(testid)


def queue_row(page: Page, name: str) -> Locator:
    return page.locator(f"[data-testid='queue-row'][data-name='{name}']")


def test_a_queue_edited_in_one_tab_changes_in_the_other(tabs: tuple[Tab, Tab],
                                                        cluster: UiCluster) -> None:
    editing, watching = tabs
    for tab in tabs:
        by(tab.page, "nav-queues").click()
        expect(by(tab.page, "queues-table")).to_be_visible()
    subscribed(tabs, cluster)

    by(editing.page, "queue-new").click()
    dialog = by(editing.page, "queue-dialog")
    dialog.get_by_test_id("queue-name").fill("live")
    dialog.get_by_test_id("queue-concurrency").fill("1")
    dialog.get_by_test_id("queue-dialog-submit").click()
    expect(queue_row(watching.page, "live")).to_have_count(1)

    queue_row(editing.page, "live").get_by_test_id("queue-edit").click()
    dialog = by(editing.page, "queue-dialog")
    dialog.get_by_test_id("queue-concurrency").fill("4")
    dialog.get_by_test_id("queue-scheduler").select_option("prio")
    dialog.get_by_test_id("queue-dialog-submit").click()
    for tab in tabs:  # the tab that edited follows the push too
        cells = queue_row(tab.page, "live").locator("td")
        expect(cells.nth(1)).to_have_text("prio")
        expect(cells.nth(2)).to_have_text("4")
    shot(watching.page, "live-queue-edited-elsewhere")

    queue_row(editing.page, "live").get_by_test_id("queue-delete").click()
    by(editing.page, "confirm-ok").click()
    expect(queue_row(watching.page, "live")).to_have_count(0)
    for tab in tabs:
        assert_clean(tab.wire)


# -- every other list, changed through the second node -----------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


WORKFLOW = b64("<workflow><subjobs><job name='j'><tasks><task path='/bin/true' "
               "queue='default'/></tasks></job></subjobs></workflow>")
RETRY = b64('<schedule><level retry_delay="60" retry_times="2"/></schedule>')


@dataclass(frozen=True)
class LiveList:
    """A list page, where it shows an object's name, and the API commands that create, rename
    and delete one (``rename`` None: the object has no name to change)."""

    nav: str
    shown_in: Callable[[Page], Locator]
    create: Callable[[Client, str], Any]
    rename: Callable[[Client, Any, str], object] | None
    delete: Callable[[Client, Any], object]


def _attr(root: etree._Element, name: str) -> str:
    value = root.get(name)
    assert value is not None, etree.tostring(root)
    return value


def _workflow_id(client: Client, name: str) -> str:
    return _attr(client.exec(f"<workflow action='create' name='{name}' content='{WORKFLOW}'/>"),
                 "workflow-id")


def _webhook(client: Client) -> str:
    for node in client.exec("<notification_types action='list'/>"):
        if node.get("name") == "webhook":
            return node.get("id", "")
    zip_data = base64.b64encode(plugin_zip("webhook")).decode()
    return _attr(client.exec(f"<notification_type action='register' zip='{zip_data}'/>"),
                 "notification-type-id")


def _notification(client: Client, name: str, type_id: str, object_id: str = "") -> str:
    parameters = b64(json.dumps({"url": "http://127.0.0.1:9/"}))
    action = f"action='edit' id='{object_id}'" if object_id else "action='create'"
    root = client.exec(f"<notification {action} type_id='{type_id}' name='{name}' "
                       f"subscribe_all='no' parameters='{parameters}'/>")
    return object_id or _attr(root, "notification-id")


def _schedule(client: Client, comment: str, workflow_id: str, schedule_id: str = "") -> str:
    action = f"action='edit' id='{schedule_id}'" if schedule_id else "action='create'"
    root = client.exec(f"<workflow_schedule {action} workflow_id='{workflow_id}' node='any' "
                       f"schedule='0;0;3;;;' onfailure='CONTINUE' active='no' "
                       f"comment='{comment}'/>")
    return schedule_id or _attr(root, "schedule-id")


def _launcher(client: Client, name: str, workflow_id: str, launcher_id: str = "") -> str:
    action = f"action='edit' id='{launcher_id}'" if launcher_id else "action='create'"
    root = client.exec(f"<launcher {action} name='{name}' user='' host='' parameters='{{}}' "
                       f"workflow_id='{workflow_id}'/>")
    return launcher_id or _attr(root, "launcher-id")


def _display(client: Client, name: str, display_id: str = "") -> str:
    action = f"action='edit' id='{display_id}'" if display_id else "action='create'"
    root = client.exec(f"<display {action} name='{name}' path='live' order='ASC' "
                       "item_title='{name}' item_content='{value}'/>")
    return display_id or _attr(root, "display-id")


def _variable(client: Client, name: str, variable_id: str = "") -> str:
    key = f"id='{variable_id}' " if variable_id else ""
    client.exec(f"<storage action='set' {key}path='live' name='{name}' type='INT' "
                "structure='NONE' value='1'/>")
    return _attr(client.exec(f"<storage action='get' path='live' name='{name}'/>"), "id")


#: The scaffolding a case builds first (a workflow for schedules and launchers, the plugin of
#: notifications), by case.
_NEEDS: dict[str, str] = {}


def _needed_workflow(client: Client) -> str:
    if "workflow" not in _NEEDS:
        _NEEDS["workflow"] = _workflow_id(client, "live-scaffold")
    return _NEEDS["workflow"]


LISTS = (
    LiveList("workflows", lambda p: by(p, "workflows-table"), _workflow_id,
             lambda c, i, n: c.exec(f"<workflow action='edit' id='{i}' name='{n}' "
                                    f"content='{WORKFLOW}'/>"),
             lambda c, i: c.exec(f"<workflow action='delete' id='{i}'/>")),
    LiveList("retry-schedules", lambda p: by(p, "retry-table"),
             lambda c, n: _attr(c.exec(f"<retry_schedule action='create' name='{n}' "
                                       f"content='{RETRY}'/>"), "retry-schedule-id"),
             lambda c, i, n: c.exec(f"<retry_schedule action='edit' id='{i}' name='{n}' "
                                    f"content='{RETRY}'/>"),
             lambda c, i: c.exec(f"<retry_schedule action='delete' id='{i}'/>")),
    LiveList("schedules", lambda p: by(p, "schedules-table"),
             lambda c, n: _schedule(c, n, _needed_workflow(c)),
             lambda c, i, n: _schedule(c, n, _needed_workflow(c), i),
             lambda c, i: c.exec(f"<workflow_schedule action='delete' id='{i}'/>")),
    LiveList("users", lambda p: by(p, "users-table"),
             lambda c, n: _attr(c.exec(f"<user action='create' name='{n}' password='pw' "
                                       "profile='USER'/>"), "user-id"),
             lambda c, i, n: c.exec(f"<user action='edit' id='{i}' name='{n}' password='' "
                                    "profile='USER'/>"),
             lambda c, i: c.exec(f"<user action='delete' id='{i}'/>")),
    LiveList("notifications", lambda p: by(p, "notifications-table"),
             lambda c, n: _notification(c, n, _webhook(c)),
             lambda c, i, n: _notification(c, n, _webhook(c), i),
             lambda c, i: c.exec(f"<notification action='delete' id='{i}'/>")),
    LiveList("notifications", lambda p: by(p, "plugins-table"),
             lambda c, n: _attr(c.exec(
                 "<notification_type action='register' "
                 f"zip='{base64.b64encode(plugin_zip('email')).decode()}'/>"),
                 "notification-type-id"),
             None,
             lambda c, i: c.exec(f"<notification_type action='unregister' id='{i}'/>")),
    LiveList("instances", lambda p: by(p, "filter-form"),
             lambda c, n: _attr(c.exec(f"<tag action='create' label='{n}'/>"), "tag-id"),
             lambda c, i, n: c.exec(f"<tag action='edit' id='{i}' label='{n}'/>"),
             lambda c, i: c.exec(f"<tag action='delete' id='{i}'/>")),
    LiveList("variables", lambda p: by(p, "variables-table"), _variable,
             lambda c, i, n: _variable(c, n, i),
             lambda c, i: c.exec(f"<storage action='unset' id='{i}'/>")),
    LiveList("launchers", lambda p: by(p, "launchers-table"),
             lambda c, n: _launcher(c, n, _needed_workflow(c)),
             lambda c, i, n: _launcher(c, n, _needed_workflow(c), i),
             lambda c, i: c.exec(f"<launcher action='delete' id='{i}'/>")),
    LiveList("displays", lambda p: by(p, "displays-table"), _display,
             lambda c, i, n: _display(c, n, i),
             lambda c, i: c.exec(f"<display action='delete' id='{i}'/>")),
)


def _names(case: LiveList) -> tuple[str, str]:
    if case.rename is None:  # a plugin: its name is its manifest's
        return "email", "email"
    return f"{case.nav}-before", f"{case.nav}-after"


@pytest.mark.parametrize("case", LISTS, ids=[f"{c.nav}-{i}" for i, c in enumerate(LISTS)])
def test_a_list_follows_changes_made_on_the_other_node(tabs: tuple[Tab, Tab],
                                                       cluster: UiCluster,
                                                       case: LiveList) -> None:
    _, tab = tabs
    by(tab.page, f"nav-{case.nav}").click()
    shown = case.shown_in(tab.page)
    subscribed(tabs, cluster)
    before, after = _names(case)
    with cluster.client(1) as client:
        expect(shown).not_to_contain_text(before)
        object_id = case.create(client, before)
        expect(shown).to_contain_text(before)
        if case.rename is not None:
            case.rename(client, object_id, after)
            expect(shown).to_contain_text(after)
            expect(shown).not_to_contain_text(before)
        shot(tab.page, f"live-{case.nav}")
        case.delete(client, object_id)
        expect(shown).not_to_contain_text(after)
    assert_clean(tab.wire)
