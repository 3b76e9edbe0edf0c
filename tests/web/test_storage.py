"""The storage pages of the web UI (variables, launchers, displays) in headless Chromium.

An administrator creates, edits and deletes one of each through the UI, and each step is
checked through the XML API of the other node; a mistyped value is explained in the dialog
before anything is sent; a display shows its variable's items; a USER sees the pages without
the buttons that change them. Each page gets a screenshot in ``screenshots/``.

The tests share one browser page and one two-node cluster, and run in file order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from lxml import etree
from playwright.sync_api import Browser, Page, expect

from evqueue.protocol import ApiError
from tests.web.browserkit import (
    VIEWPORT,
    UiCluster,
    WireWatch,
    assert_clean,
    close_dialogs,
    shot,
    start_cluster,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiCluster]:
    nodes = start_cluster(tmp_path_factory.mktemp("storage-ui"))
    yield nodes
    nodes.stop()


@pytest.fixture(autouse=True)
def no_dialog_left(page: Page) -> None:
    """A test starts with no dialog open, even when the one before failed with one open."""
    close_dialogs(page)


def by(page: Page, testid: str):
    return page.get_by_test_id(testid)


def api(cluster: UiCluster, command: str) -> etree._Element:
    """A command on the second node: what the UI did on the first is in the shared store."""
    with cluster.client(1) as client:
        return client.exec(command)


def log_in(page: Page, cluster: UiCluster, user: str, password: str) -> None:
    page.goto(cluster.url)
    by(page, "login-user").fill(user)
    by(page, "login-password").fill(password)
    by(page, "login-submit").click()
    expect(by(page, "current-user")).to_have_text(user)


def row(page: Page, testid: str, name: str):
    return page.locator(f"[data-testid='{testid}'][data-name='{name}']")


def test_the_storage_menu_is_shown_to_an_administrator(page: Page, wire: WireWatch,
                                                       cluster: UiCluster) -> None:
    log_in(page, cluster, "admin", "admin")
    for nav in ("variables", "launchers", "displays"):
        expect(by(page, f"nav-{nav}")).to_be_visible()
    assert_clean(wire)


def test_a_variable_is_created_and_a_mistyped_value_is_explained(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    by(page, "nav-variables").click()
    expect(by(page, "variables-table")).to_contain_text("No variable yet.")
    by(page, "variable-new").click()
    dialog = by(page, "variable-dialog")
    dialog.get_by_test_id("variable-path").fill("deploy")
    dialog.get_by_test_id("variable-name").fill("hosts")
    dialog.get_by_test_id("variable-structure").select_option("ARRAY")
    dialog.get_by_test_id("variable-value").fill('["web1", 2]')
    dialog.get_by_test_id("variable-submit").click()
    expect(dialog.get_by_test_id("variable-error")).to_have_text(
        "Every item must be a string (type STRING).")
    dialog.get_by_test_id("variable-value").fill('["web1", "web2"]')
    shot(page, "20-storage-variable-dialog")
    dialog.get_by_test_id("variable-submit").click()
    expect(dialog).to_have_count(0)
    expect(row(page, "variable-row", "hosts")).to_contain_text('["web1","web2"]')

    reply = api(cluster, "<storage action='get' path='deploy' name='hosts'/>")
    assert (reply.get("type"), reply.get("structure")) == ("STRING", "ARRAY")
    assert json.loads(reply.get("value")) == ["web1", "web2"]

    by(page, "variable-new").click()
    dialog = by(page, "variable-dialog")
    dialog.get_by_test_id("variable-path").fill("deploy")
    dialog.get_by_test_id("variable-name").fill("user")
    dialog.get_by_test_id("variable-value").fill("deployer")
    dialog.get_by_test_id("variable-submit").click()
    expect(dialog).to_have_count(0)
    expect(row(page, "variable-row", "user")).to_contain_text("deployer")
    assert json.loads(api(cluster, "<storage action='get' path='deploy/user'/>").get("value")) \
        == "deployer"
    assert_clean(wire)


def test_a_variable_is_edited(page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    row(page, "variable-row", "hosts").get_by_test_id("variable-edit").click()
    dialog = by(page, "variable-dialog")
    value = dialog.get_by_test_id("variable-value")
    expect(value).to_have_value('[\n  "web1",\n  "web2"\n]')
    value.fill('["web1", "web2", "web3"]')
    dialog.get_by_test_id("variable-submit").click()
    expect(dialog).to_have_count(0)
    expect(row(page, "variable-row", "hosts")).to_contain_text('["web1","web2","web3"]')
    reply = api(cluster, "<storage action='get' path='deploy' name='hosts'/>")
    assert json.loads(reply.get("value")) == ["web1", "web2", "web3"]
    assert_clean(wire)
    shot(page, "21-storage-variables")


def test_a_launcher_is_created_with_its_parameters_bound_to_variables(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    by(page, "nav-launchers").click()
    expect(by(page, "launchers-table")).to_contain_text("No launcher yet.")
    by(page, "launcher-new").click()
    dialog = by(page, "launcher-dialog")
    dialog.get_by_test_id("launcher-name").fill("greet")
    dialog.get_by_test_id("launcher-group").fill("ops")
    dialog.get_by_test_id("launcher-description").fill("Says hello")
    dialog.get_by_test_id("launcher-workflow").select_option(label="count")
    dialog.get_by_test_id("launcher-user").fill("deploy/user")
    dialog.get_by_test_id("launcher-param-who").fill("deploy/user")
    shot(page, "22-storage-launcher-dialog")
    dialog.get_by_test_id("launcher-submit").click()
    expect(dialog).to_have_count(0)
    expect(row(page, "launcher-row", "greet")).to_contain_text("Says hello")

    launcher_id = row(page, "launcher-row", "greet").get_attribute("data-id")
    reply = api(cluster, f"<launcher action='get' id='{launcher_id}'/>")
    assert reply.get("workflow_id") == cluster.workflow_ids["count"]
    assert (reply.get("group"), reply.get("user"), reply.get("host")) == ("ops", "deploy/user", "")
    assert json.loads(reply.get("parameters")) == {"who": "deploy/user"}
    assert_clean(wire)


def test_a_launcher_is_edited(page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    row(page, "launcher-row", "greet").get_by_test_id("launcher-edit").click()
    dialog = by(page, "launcher-dialog")
    expect(dialog.get_by_test_id("launcher-param-who")).to_have_value("deploy/user")
    dialog.get_by_test_id("launcher-description").fill("Says hello to the deployer")
    dialog.get_by_test_id("launcher-submit").click()
    expect(dialog).to_have_count(0)
    expect(row(page, "launcher-row", "greet")).to_contain_text("Says hello to the deployer")
    launcher_id = row(page, "launcher-row", "greet").get_attribute("data-id")
    reply = api(cluster, f"<launcher action='get' id='{launcher_id}'/>")
    assert reply.get("description") == "Says hello to the deployer"
    assert json.loads(reply.get("parameters")) == {"who": "deploy/user"}
    assert_clean(wire)
    shot(page, "23-storage-launchers")


def test_a_display_is_created_and_shows_the_items_of_its_variable(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    by(page, "nav-displays").click()
    expect(by(page, "displays-table")).to_contain_text("No display yet.")
    by(page, "display-new").click()
    dialog = by(page, "display-dialog")
    dialog.get_by_test_id("display-name").fill("Hosts")
    dialog.get_by_test_id("display-group").fill("ops")
    dialog.get_by_test_id("display-path").fill("deploy/hosts")
    dialog.get_by_test_id("display-order").select_option("DESC")
    dialog.get_by_test_id("display-title").fill("Host $key")
    dialog.get_by_test_id("display-content").fill("$value, deployed by {deploy/user}")
    shot(page, "24-storage-display-dialog")
    dialog.get_by_test_id("display-submit").click()
    expect(dialog).to_have_count(0)
    display = row(page, "display-row", "Hosts")
    expect(display).to_be_visible()
    reply = api(cluster, f"<display action='get' id='{display.get_attribute('data-id')}'/>")
    assert (reply.get("group"), reply.get("path"), reply.get("order")) == (
        "ops", "deploy/hosts", "DESC")
    assert (reply.get("item_title"), reply.get("item_content")) == (
        "Host $key", "$value, deployed by {deploy/user}")

    display.get_by_test_id("display-view-button").click()
    items = by(page, "display-view").get_by_test_id("display-item")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("Host web3")
    expect(items.nth(2)).to_contain_text("Host web1")
    expect(items.nth(0)).to_contain_text("web3, deployed by deployer")
    shot(page, "25-storage-display-view")
    by(page, "display-view").get_by_test_id("dialog-close").click()
    assert_clean(wire)


def test_a_display_is_edited(page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    display = row(page, "display-row", "Hosts")
    display.get_by_test_id("display-edit").click()
    dialog = by(page, "display-dialog")
    expect(dialog.get_by_test_id("display-path")).to_have_value("deploy/hosts")
    dialog.get_by_test_id("display-order").select_option("ASC")
    dialog.get_by_test_id("display-submit").click()
    expect(dialog).to_have_count(0)
    reply = api(cluster, f"<display action='get' id='{display.get_attribute('data-id')}'/>")
    assert reply.get("order") == "ASC"
    display.get_by_test_id("display-view-button").click()
    expect(by(page, "display-view").get_by_test_id("display-item").nth(0)).to_contain_text(
        "Host web1")
    by(page, "display-view").get_by_test_id("dialog-close").click()
    assert_clean(wire)
    shot(page, "26-storage-displays")


def test_a_user_sees_the_storage_pages_without_the_buttons_that_change_them(
        browser: Browser, cluster: UiCluster) -> None:
    api(cluster, "<user action='create' name='viewer' password='viewer' profile='USER'/>")
    context = browser.new_context(viewport=VIEWPORT)
    try:
        viewer = context.new_page()
        watch = WireWatch(viewer)
        log_in(viewer, cluster, "viewer", "viewer")
        expect(by(viewer, "nav-users")).to_have_count(0)  # the menu follows the profile
        by(viewer, "nav-variables").click()
        expect(row(viewer, "variable-row", "hosts")).to_be_visible()
        expect(by(viewer, "variable-new")).to_have_count(0)
        expect(by(viewer, "variable-edit")).to_have_count(0)
        by(viewer, "nav-displays").click()
        expect(row(viewer, "display-row", "Hosts").get_by_test_id("display-view-button")) \
            .to_be_visible()
        expect(by(viewer, "display-edit")).to_have_count(0)
        by(viewer, "nav-launchers").click()
        # Launchers are listed only to the users granted them.
        expect(by(viewer, "launchers-table")).to_contain_text("No launcher for you.")
        expect(by(viewer, "launcher-new")).to_have_count(0)
        assert_clean(watch)
        shot(viewer, "27-storage-as-user")
    finally:
        context.close()


def test_the_display_the_launcher_and_the_variable_are_deleted(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    by(page, "nav-displays").click()
    row(page, "display-row", "Hosts").get_by_test_id("display-delete").click()
    by(page, "confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(row(page, "display-row", "Hosts")).to_have_count(0)
    assert len(api(cluster, "<displays action='list'/>")) == 0

    by(page, "nav-launchers").click()
    row(page, "launcher-row", "greet").get_by_test_id("launcher-delete").click()
    by(page, "confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(row(page, "launcher-row", "greet")).to_have_count(0)
    assert len(api(cluster, "<launchers action='list'/>")) == 0

    by(page, "nav-variables").click()
    row(page, "variable-row", "hosts").get_by_test_id("variable-delete").click()
    by(page, "confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(row(page, "variable-row", "hosts")).to_have_count(0)
    expect(row(page, "variable-row", "user")).to_be_visible()
    with pytest.raises(ApiError, match="Variable not found"):
        api(cluster, "<storage action='get' path='deploy' name='hosts'/>")
    assert_clean(wire)
