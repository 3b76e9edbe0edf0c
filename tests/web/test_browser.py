"""The web UI in headless Chromium against two real engine nodes sharing one store.

What a user does, in order: log in (a wrong password is refused in place), see both nodes,
launch a workflow with a parameter on the second node and watch its output arrive while it
runs, find it TERMINATED in the history, open its details, kill a long task from the UI (its
process is gone), get a validation error in the workflow editor, and visit every page without
an engine refusing what the page asks. Each step writes a screenshot to ``screenshots/``.

The tests share one browser page and one cluster, and run in file order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.enginekit import pid_alive
from tests.e2e.nodes import wait_for
from tests.web.browserkit import (
    TIMEOUT_MS,
    UiCluster,
    WireFailure,
    WireWatch,
    assert_clean,
    close_dialogs,
    shot,
    start_cluster,
)

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiCluster]:
    nodes = start_cluster(tmp_path_factory.mktemp("ui"))
    yield nodes
    nodes.stop()


@pytest.fixture(autouse=True)
def no_dialog_left(page: Page) -> None:
    """A test starts with no dialog open, even when the one before failed with one open."""
    close_dialogs(page)


def by(page: Page, testid: str):
    return page.get_by_test_id(testid)


def tail_after_end(failure: WireFailure) -> bool:
    """A live-output poll that raced the end of its task (the UI keeps the text it has)."""
    return failure.code == "UNKNOWN_INSTANCE" and failure.command.startswith("<processmanager")


def launch(page: Page, workflow: str, node: str, **parameters: str) -> None:
    by(page, "launch-button").click()
    dialog = by(page, "launch-dialog")
    dialog.get_by_test_id("launch-workflow").select_option(workflow)
    for name, value in parameters.items():
        dialog.get_by_test_id(f"launch-param-{name}").fill(value)
    dialog.get_by_test_id("launch-node").select_option(node)
    dialog.get_by_test_id("launch-submit").click()
    expect(dialog).to_have_count(0)


def test_login_refuses_a_wrong_password_then_lets_admin_in(page: Page, wire: WireWatch,
                                                           cluster: UiCluster) -> None:
    page.goto(cluster.url)
    by(page, "login-user").fill("admin")
    by(page, "login-password").fill("not the password")
    by(page, "login-submit").click()
    expect(by(page, "login-error")).to_contain_text("Authentication failed")
    expect(by(page, "login-password")).to_have_value("")
    shot(page, "01-login-refused")

    by(page, "login-password").fill("admin")
    by(page, "login-submit").click()
    expect(by(page, "current-user")).to_have_text("admin")
    expect(by(page, "executing-panel")).to_be_visible()
    expect(by(page, "terminated-panel")).to_be_visible()
    assert_clean(wire)
    shot(page, "02-instances-empty")


def test_the_node_list_shows_both_nodes(page: Page, wire: WireWatch) -> None:
    by(page, "nav-nodes").click()
    rows = by(page, "nodes-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("node1")
    expect(rows.nth(1)).to_contain_text("node2")
    expect(by(page, "cluster-status")).to_have_text("2 nodes up")
    assert_clean(wire)
    shot(page, "03-nodes")


def test_a_launch_on_the_second_node_shows_its_output_while_it_runs(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    by(page, "nav-instances").click()
    launch(page, "count", "node2", who="world")
    expect(by(page, "launch-toast")).to_contain_text("on node2")
    running = by(page, "executing-row")
    expect(running).to_have_count(1)
    expect(running).to_have_attribute("data-node", "node2")
    shot(page, "04-instance-executing")

    by(page, "launch-open").click()
    details = by(page, "instance-details")
    expect(details).to_contain_text("running")
    task = details.get_by_test_id("task-row")
    task.click()
    output = details.get_by_test_id("task-output")
    # Part of the output while the task still runs, read live from node2 (processmanager
    # tail); the task prints the rest once the test opens its gate.
    expect(output).to_contain_text("line 3 for world")
    assert "line 4" not in output.inner_text()
    expect(task).to_have_attribute("data-status", "EXECUTING")
    shot(page, "05-task-output-live")
    cluster.gate.touch()

    expect(task).to_have_attribute("data-status", "TERMINATED")
    expect(output).to_contain_text("line 6 for world")
    expect(details).to_contain_text("success")
    details.get_by_test_id("dialog-close").click()
    assert_clean(wire, allowed=tail_after_end)


def test_the_ended_instance_is_terminated_in_the_history(page: Page, wire: WireWatch) -> None:
    expect(by(page, "executing-row")).to_have_count(0)
    row = by(page, "terminated-row").first
    expect(row).to_have_attribute("data-node", "node2")
    expect(row).to_contain_text("count")
    expect(row).to_contain_text(re.compile("success|TERMINATED", re.I))
    assert_clean(wire)
    shot(page, "06-instances-history")


def test_the_details_show_the_tree_and_the_stored_output(page: Page, wire: WireWatch) -> None:
    by(page, "terminated-row").first.click()
    details = by(page, "instance-details")
    tree = details.get_by_test_id("instance-tree")
    expect(tree).to_contain_text("Job main")
    expect(tree.get_by_test_id("task-counts")).to_contain_text("1 succeeded")
    tree.get_by_test_id("task-row").click()
    expect(details.get_by_test_id("task-output")).to_contain_text(
        "line 1 for world\nline 2 for world")
    expect(details.get_by_test_id("task-inputs")).to_contain_text("world")
    assert_clean(wire)
    shot(page, "07-instance-details")
    details.get_by_test_id("tab-summary").click()
    expect(details.get_by_test_id("instance-parameters")).to_contain_text("world")
    shot(page, "08-instance-summary")
    details.get_by_test_id("dialog-close").click()


def test_a_long_task_killed_from_the_ui_is_gone(page: Page, wire: WireWatch,
                                                cluster: UiCluster) -> None:
    launch(page, "long", "node1")
    row = by(page, "executing-row")
    expect(row).to_have_attribute("data-node", "node1")
    assert wait_for(lambda: _read_pid(cluster.long_pidfile) is not None,
                    timeout=TIMEOUT_MS / 1000), "the long task did not start"
    pid = _read_pid(cluster.long_pidfile)
    row.click()
    details = by(page, "instance-details")
    kill = details.get_by_test_id("killtask-button")
    kill.click()
    confirm = by(page, "confirm-dialog")
    expect(confirm).to_contain_text("Kill task")
    shot(page, "09-kill-confirm")
    confirm.get_by_test_id("confirm-ok").click()

    assert wait_for(lambda: not pid_alive(pid), timeout=TIMEOUT_MS / 1000), "the task still runs"
    expect(details.get_by_test_id("task-row")).to_have_attribute("data-status", "TERMINATED")
    expect(details).to_contain_text("terminated with 1 error")
    assert_clean(wire, allowed=tail_after_end)
    shot(page, "10-killed-task")
    details.get_by_test_id("dialog-close").click()
    expect(by(page, "executing-row")).to_have_count(0)


def test_history_filters_find_the_failed_instance_and_a_parameter_value(
        page: Page, wire: WireWatch) -> None:
    history = by(page, "terminated-row")
    expect(history).to_have_count(2)
    by(page, "filter-toggle").click()
    by(page, "filter-errors").check()
    by(page, "filter-apply").click()
    expect(by(page, "filter-sentence")).to_contain_text("Showing failed instances")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("long")
    expect(history).to_have_attribute("data-node", "node1")
    shot(page, "11-history-failed-only")

    by(page, "filter-errors").uncheck()
    by(page, "filter-workflow").select_option("count")
    by(page, "filter-p-who").fill("world")
    by(page, "filter-node").select_option("node2")
    by(page, "filter-apply").click()
    expect(by(page, "filter-sentence")).to_contain_text(
        "Showing instances of count, with who = world, on node node2")
    expect(history).to_have_count(1)
    expect(history).to_contain_text("count")
    by(page, "filter-node").select_option("node1")
    by(page, "filter-apply").click()
    expect(by(page, "terminated-panel")).to_contain_text("No instance matches.")
    by(page, "filter-clear").click()
    expect(history).to_have_count(2)
    assert_clean(wire)


def test_preferences_are_kept_by_the_engine(page: Page, wire: WireWatch) -> None:
    by(page, "preferences-button").click()
    dialog = by(page, "preferences-dialog")
    dialog.get_by_test_id("pref-env-name").fill("browser tests")
    dialog.get_by_test_id("pref-env-color").select_option(label="Green")
    dialog.get_by_test_id("pref-node").select_option("node2")
    shot(page, "12-preferences")
    dialog.get_by_test_id("preferences-dialog-submit").click()
    expect(dialog).to_have_count(0)
    expect(by(page, "env-name")).to_have_text("browser tests")
    assert_clean(wire)

    page.reload()  # the session is restored, preferences read back with <user action="get"/>
    expect(by(page, "env-name")).to_have_text("browser tests")
    by(page, "launch-button").click()
    expect(by(page, "launch-node")).to_have_value("node2")
    assert_clean(wire)
    shot(page, "13-launch-preferred-node")
    by(page, "launch-dialog").get_by_test_id("dialog-close").click()


def test_an_output_too_large_for_the_instance_is_loaded_from_the_datastore(
        page: Page, wire: WireWatch) -> None:
    launch(page, "big", "node2")
    by(page, "launch-open").click()
    details = by(page, "instance-details")
    task = details.get_by_test_id("task-row")
    expect(task).to_have_attribute("data-status", "TERMINATED")
    task.click()
    details.get_by_test_id("datastore-load").click()
    output = details.get_by_test_id("task-output")
    expect(output).to_contain_text("big line 1\nbig line 2\n")
    expect(output).to_contain_text("big line 200")
    assert_clean(wire)
    shot(page, "14-datastore-output")
    details.get_by_test_id("dialog-close").click()


def test_an_invalid_edit_shows_the_engine_validation_error_in_the_editor(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    page.goto(f"{cluster.url}#/workflow/{cluster.workflow_ids['count']}")
    expect(by(page, "editor-name")).to_have_value("count")
    by(page, "tab-xml").click()
    xml = by(page, "editor-xml")
    expect(xml).to_have_value(re.compile("count.sh"))
    # A task with neither a path nor a script is refused by the engine's schema.
    xml.fill(re.sub(r"path=\"[^\"]*\"", "", xml.input_value()))
    by(page, "editor-save").click()
    error = by(page, "editor-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("evQueue engine returned error")
    wire.settle()
    failures, errors = wire.take()
    assert not errors, errors
    assert [f.code for f in failures] == ["INVALID_XML"], failures
    shot(page, "15-editor-validation-error")


PAGES = [
    ("workflows", "workflows-table"), ("schedules", "schedules-table"),
    ("queues", "queues-table"), ("retry-schedules", "retry-table"),
    ("notifications", "notifications-table"), ("users", "users-table"),
    ("variables", "variables-table"), ("launchers", "launchers-table"),
    ("displays", "displays-table"),
    ("logs-engine", "logs-table"), ("logs-api", "logs-table"),
    ("logs-notifications", "logs-table"), ("statistics", "stats-table"),
    ("configuration", "config-table"),
]


@pytest.mark.parametrize(("nav", "content"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_gets_what_it_asks_for(page: Page, wire: WireWatch, cluster: UiCluster,
                                          nav: str, content: str) -> None:
    if page.url.startswith(f"{cluster.url}#/workflow/"):
        page.once("dialog", lambda dialog: dialog.accept())  # leave the edited workflow
    by(page, f"nav-{nav}").click()
    expect(by(page, content).first).to_be_visible()
    assert_clean(wire)
    shot(page, f"16-page-{nav}", full_page=True)


def _read_pid(path: Path) -> int | None:
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text.isdigit() else None


