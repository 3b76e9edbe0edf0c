"""The workflow and instance graphs of the web UI in headless Chromium.

A workflow is drawn as a tree of job boxes (parallel siblings side by side, sub-jobs below,
conditions, loops and retries marked); 200 jobs lay out fast and without overlap; jobs and
tasks are moved by drag and drop, added, removed, undone and redone, and the XML view follows
both ways; the XPath picker lists what an input can read and the engine checks the expression
as it is typed; an instance is drawn coloured by state and follows its events.
Each view is saved under screenshots/ (ignored by git); with EVQUEUE_DOC_SCREENSHOTS=1 it also
replaces the README's image under docs/screenshots/ (so a test run leaves the tree clean).

The tests share one browser page and one two-node cluster, and run in file order.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import Page, expect

from tests.web.browserkit import (
    SCREENSHOTS,
    UiCluster,
    WireWatch,
    assert_clean,
    close_dialogs,
    start_cluster,
)

pytestmark = pytest.mark.slow

DOC_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

DEMO = """<workflow>
  <parameters><parameter name="who"/></parameters>
  <subjobs>
    <job name="prepare">
      <tasks>
        <task name="list" path="/bin/echo" queue="default" output-method="XML"
              retry_times="2" retry_delay="5"><input>&lt;items/&gt;</input></task>
      </tasks>
      <subjobs>
        <job name="each" loop="evqGetOutput('list')/items/item">
          <tasks><task path="/bin/true" queue="default"/></tasks>
          <subjobs>
            <job name="report" condition="count(evqGetParentJob(0)/evqGetContext()) &gt; 0">
              <tasks><task path="/bin/echo report" queue="default"><input>x</input></task></tasks>
            </job>
          </subjobs>
        </job>
        <job name="audit">
          <tasks>
            <task name="check" path="/bin/true" queue="default"/>
            <task name="notify" path="/bin/echo" queue="default"><input>done</input></task>
          </tasks>
        </job>
      </subjobs>
    </job>
    <job name="cleanup">
      <tasks><task path="/bin/true" queue="default"/></tasks>
    </job>
  </subjobs>
</workflow>"""

ITEMS = "".join(["&lt;items&gt;", *(f"&lt;item&gt;{c}&lt;/item&gt;" for c in "abc"),
                "&lt;/items&gt;"])


def live_workflow(count: Path) -> str:
    """A split job whose XML output drives a loop of three, a task held until the gate opens,
    a failing task and a job skipped by its condition, all on the default queue (one task at a
    time)."""
    return f"""<workflow><parameters><parameter name="who"/></parameters><subjobs>
  <job name="split">
    <tasks><task name="items" path="/bin/echo" queue="default" output-method="XML"
                 ><input>{ITEMS}</input></task></tasks>
    <subjobs><job name="each" loop="evqGetOutput('items')/items/item">
      <tasks><task path="/bin/true" queue="default"/></tasks></job></subjobs>
  </job>
  <job name="wait"><tasks><task name="count" path="{count}" queue="default"
    ><input><value select="evqGetWorkflowParameter('who')"/></input></task></tasks></job>
  <job name="broken"><tasks><task path="/bin/false" queue="default"/></tasks></job>
  <job name="never" condition="false()"><tasks><task path="/bin/true" queue="default"/></tasks>
  </job>
</subjobs></workflow>"""


PROGRESS_SCRIPT = """#!/bin/sh
# Reports 40 % on the log channel (fd 3), then waits for {gate} (at most 60 s).
echo "%40" >&3
n=0
while [ ! -e {gate} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
"""


def states_workflow(progress: Path) -> str:
    """A task that fails and waits 10 minutes for its retry, a task at 40 % until its gate
    opens, and a task queued behind it (the default queue runs one task at a time)."""
    return f"""<workflow><subjobs>
  <job name="flaky"><tasks><task path="/bin/false" queue="default" retry_times="3"
    retry_delay="600"/></tasks></job>
  <job name="half"><tasks><task path="{progress}" queue="default"/></tasks></job>
  <job name="later"><tasks><task path="/bin/true" queue="default"/></tasks></job>
</subjobs></workflow>"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiCluster]:
    nodes = start_cluster(tmp_path_factory.mktemp("graph-ui"))
    progress = nodes.directory / "tasks" / "progress.sh"
    progress.write_text(PROGRESS_SCRIPT.format(gate=nodes.directory / "gate2"))
    progress.chmod(0o755)
    with nodes.client() as client:
        for name, xml in (("graphdemo", DEMO),
                          ("graphlive", live_workflow(nodes.directory / "tasks" / "count.sh")),
                          ("graphstates", states_workflow(progress))):
            content = base64.b64encode(xml.encode()).decode()
            reply = client.exec(f"<workflow action='create' name='{name}' group='graph' "
                                f"content='{content}'/>")
            nodes.workflow_ids[name] = reply.get("workflow-id")
    yield nodes
    nodes.stop()


@pytest.fixture(autouse=True)
def no_dialog_left(page: Page) -> None:
    close_dialogs(page)


def by(page: Page, testid: str):
    return page.get_by_test_id(testid)


def job(page: Page, name: str):
    return page.locator(f"[data-testid='graph-job'][data-name='{name}']")


def doc_shot(page: Page, name: str, target=None) -> None:
    """A screenshot of a view (an element, or the page) without the toasts of earlier steps."""
    page.evaluate("document.querySelectorAll('.toast').forEach((t) => t.remove())")
    paths = [SCREENSHOTS / f"graph-{name}.png"]
    if os.environ.get("EVQUEUE_DOC_SCREENSHOTS") == "1":
        paths.append(DOC_SHOTS / f"{name}.png")
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        (target or page).screenshot(path=str(path))


def xml_of(page: Page) -> etree._Element:
    """The definition in the XML tab, parsed."""
    by(page, "tab-xml").click()
    text = by(page, "editor-xml").input_value()
    by(page, "tab-graph").click()
    return etree.fromstring(text.encode())


def parent_job(root: etree._Element, name: str) -> str:
    """The name of the job above job `name` ('' at the first level)."""
    el = root.find(f".//job[@name='{name}']")
    up = el.getparent().getparent()
    return up.get("name", "") if up.tag == "job" else ""


def drag(page: Page, source, target, *, fx: float = 0.5, fy: float = 0.5) -> None:
    """Press on source, move in steps onto target at (fx, fy) of its box, release."""
    a = source.bounding_box()
    b = target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    x, y = b["x"] + b["width"] * fx, b["y"] + b["height"] * fy
    page.mouse.move(x, y, steps=8)
    page.mouse.up()


def open_editor(page: Page, cluster: UiCluster, name: str) -> None:
    page.goto(f"{cluster.url}#/workflow/{cluster.workflow_ids[name]}")
    expect(by(page, "editor-name")).to_have_value(name)
    expect(by(page, "workflow-graph")).to_be_visible()


def test_the_workflow_page_draws_the_workflow_as_a_graph(page: Page, wire: WireWatch,
                                                        cluster: UiCluster) -> None:
    page.goto(cluster.url)
    by(page, "login-user").fill("admin")
    by(page, "login-password").fill("admin")
    by(page, "login-submit").click()
    expect(by(page, "current-user")).to_have_text("admin")
    open_editor(page, cluster, "graphdemo")
    expect(page.get_by_test_id("graph-job")).to_have_count(5)
    expect(by(page, "graph-start")).to_contain_text("start (who)")
    # the loaded workflow is fitted: at most 100 %, centred in the view
    frame = page.locator(".graph-frame").bounding_box()
    drawing = page.locator("svg.graph g.viewport").bounding_box()
    left = drawing["x"] - frame["x"]
    right = frame["x"] + frame["width"] - (drawing["x"] + drawing["width"])
    assert left > 0 and right > 0 and abs(left - right) < 40, (left, right)
    expect(page.locator("svg.graph .edge")).to_have_count(5)
    # parallel siblings side by side, a sub-job below its parent
    boxes = {n: job(page, n).locator(".job-box").bounding_box()
             for n in ("prepare", "cleanup", "each", "audit", "report")}
    assert boxes["prepare"]["y"] == boxes["cleanup"]["y"]
    assert boxes["each"]["y"] == boxes["audit"]["y"] > boxes["prepare"]["y"]
    assert boxes["each"]["x"] + boxes["each"]["width"] < boxes["audit"]["x"]
    assert boxes["report"]["y"] > boxes["each"]["y"]
    # marks: loop on "each", condition on "report", retry on task "list"
    expect(job(page, "each").get_by_test_id("graph-job-marks")).to_have_text("↻ loop")
    expect(job(page, "report").get_by_test_id("graph-job-marks")).to_have_text("◇ if")
    list_task = job(page, "prepare").get_by_test_id("graph-task")
    expect(list_task).to_contain_text("list")
    expect(list_task).to_contain_text("⟲")
    expect(list_task).to_contain_text("default")
    expect(job(page, "audit").get_by_test_id("graph-task")).to_have_count(2)
    # zoom and pan
    by(page, "graph-fit").click()
    before = page.locator("svg.graph g.viewport").get_attribute("transform")
    by(page, "graph-zoom-in").click()
    expect(by(page, "graph-zoom")).not_to_have_text(re.compile(r"^100%$"))
    assert page.locator("svg.graph g.viewport").get_attribute("transform") != before
    frame = page.locator(".graph-frame").bounding_box()
    zoomed = page.locator("svg.graph g.viewport").get_attribute("transform")
    page.mouse.move(frame["x"] + 5, frame["y"] + 5)  # the background, left of the drawing
    page.mouse.down()
    page.mouse.move(frame["x"] + 60, frame["y"] + 40, steps=4)
    page.mouse.up()
    assert page.locator("svg.graph g.viewport").get_attribute("transform") != zoomed
    by(page, "graph-fit").click()
    assert_clean(wire)
    doc_shot(page, "workflow-graph", by(page, "editor-graph"))


def test_two_hundred_jobs_lay_out_in_under_200_ms_without_overlap(page: Page) -> None:
    result = page.evaluate("""async () => {
        const { workflowPicture } = await import('./static/js/graph/model.js');
        const { flatten } = await import('./static/js/graph/layout.js');
        // 200 jobs: a tree three to four levels deep, two tasks per job
        let xml = '<workflow><subjobs>';
        let made = 0;
        const job = (depth) => {
          made += 1;
          let s = `<job name="job${made}"><tasks><task path="/bin/true a${made}" queue="q"/>`
            + `<task name="second${made}" path="/bin/true" queue="q"/></tasks>`;
          if (depth < 3) {
            s += '<subjobs>';
            for (let i = 0; i < 5 && made < 200; i += 1) s += job(depth + 1);
            s += '</subjobs>';
          }
          return s + '</job>';
        };
        while (made < 200) xml += job(0);
        xml += '</subjobs></workflow>';
        const doc = new DOMParser().parseFromString(xml, 'application/xml');
        const t0 = performance.now();
        const picture = workflowPicture(doc.documentElement);
        const ms = performance.now() - t0;
        const boxes = flatten(picture.root).filter((b) => b.kind === 'job');
        let overlaps = 0;
        let belowParent = true;
        const visit = (b) => (b.children || []).forEach((c) => {
          if (c.y <= b.y + b.height) belowParent = false;
          visit(c);
        });
        visit(picture.root);
        for (const a of boxes) for (const b of boxes)
          if (a !== b && a.x < b.x + b.width && b.x < a.x + a.width
              && a.y < b.y + b.height && b.y < a.y + a.height) overlaps += 1;
        return { ms, jobs: boxes.length, overlaps, belowParent, width: picture.width };
    }""")
    assert result["jobs"] == 200
    assert result["ms"] < 200, result
    assert result["overlaps"] == 0
    assert result["belowParent"]


def test_a_job_dragged_under_another_job_moves_in_the_xml(page: Page, wire: WireWatch) -> None:
    drag(page, job(page, "cleanup").get_by_test_id("graph-job-head"), job(page, "audit"))
    expect(by(page, "editor-dirty")).to_have_text("unsaved changes")
    root = xml_of(page)
    assert parent_job(root, "cleanup") == "audit"
    assert_clean(wire)


def test_a_job_dragged_beside_a_sibling_and_a_task_to_another_job(page: Page,
                                                                  wire: WireWatch) -> None:
    # "audit" (with "cleanup" under it) goes before "each", on its left quarter
    drag(page, job(page, "audit").get_by_test_id("graph-job-head"), job(page, "each"), fx=0.1)
    root = xml_of(page)
    siblings = [j.get("name") for j in root.find(".//job[@name='prepare']/subjobs")]
    assert siblings == ["audit", "each"]
    assert parent_job(root, "cleanup") == "audit"
    # task "notify" moves from "audit" to "report"
    notify = job(page, "audit").locator("[data-testid='graph-task'][data-name='notify']")
    drag(page, notify, job(page, "report").get_by_test_id("graph-job-head"))
    expect(job(page, "report").get_by_test_id("graph-task")).to_have_count(2)
    expect(job(page, "audit").get_by_test_id("graph-task")).to_have_count(1)
    root = xml_of(page)
    assert [t.get("name") or t.get("path") for t in root.find(".//job[@name='report']/tasks")] \
        == ["/bin/echo report", "notify"]
    # a job's last task cannot leave it
    check = job(page, "audit").get_by_test_id("graph-task")
    drag(page, check, job(page, "report").get_by_test_id("graph-job-head"))
    expect(page.get_by_test_id("toast").last).to_contain_text("at least one task")
    expect(job(page, "audit").get_by_test_id("graph-task")).to_have_count(1)
    assert_clean(wire)
    doc_shot(page, "workflow-graph-edited", by(page, "editor-graph"))


def test_jobs_and_tasks_are_added_removed_undone_and_redone(page: Page, wire: WireWatch) -> None:
    job(page, "report").get_by_test_id("graph-job-head").click()
    expect(by(page, "graph-job-fields")).to_be_visible()
    by(page, "graph-add-task").click()
    expect(job(page, "report").get_by_test_id("graph-task")).to_have_count(3)
    by(page, "graph-add-subjob").click()
    expect(page.get_by_test_id("graph-job")).to_have_count(6)
    new_name = page.get_by_test_id("graph-side").get_by_test_id("attr-name")
    expect(new_name).to_have_value("job1")
    new_name.fill("summary")
    expect(job(page, "summary")).to_have_count(1)
    assert parent_job(xml_of(page), "summary") == "report"
    job(page, "each").get_by_test_id("graph-job-head").click()
    by(page, "graph-delete").click()
    expect(job(page, "each")).to_have_count(0)
    # its sub-jobs go with it
    expect(page.get_by_test_id("graph-job")).to_have_count(3)
    expect(job(page, "summary")).to_have_count(0)
    by(page, "editor-undo").click()
    expect(job(page, "each")).to_have_count(1)
    expect(job(page, "summary")).to_have_count(1)
    by(page, "editor-undo").click()  # the rename
    expect(job(page, "job1")).to_have_count(1)
    by(page, "editor-undo").click()  # the sub-job
    expect(page.get_by_test_id("graph-job")).to_have_count(5)
    page.keyboard.press("Control+y")
    expect(job(page, "job1")).to_have_count(1)
    by(page, "editor-redo").click()
    expect(job(page, "summary")).to_have_count(1)
    assert parent_job(xml_of(page), "summary") == "report"
    assert_clean(wire)


def test_an_edit_in_the_xml_view_is_drawn_in_the_graph(page: Page, wire: WireWatch) -> None:
    by(page, "tab-xml").click()
    xml = by(page, "editor-xml")
    xml.fill(xml.input_value().replace('name="audit"', 'name="verify"'))
    by(page, "tab-graph").click()
    expect(job(page, "verify")).to_have_count(1)
    expect(job(page, "audit")).to_have_count(0)
    by(page, "editor-undo").click()
    expect(job(page, "audit")).to_have_count(1)
    assert_clean(wire)


def test_a_job_dragged_onto_the_start_becomes_a_first_level_job(page: Page,
                                                                wire: WireWatch) -> None:
    assert parent_job(xml_of(page), "cleanup") == "audit"
    drag(page, job(page, "cleanup").get_by_test_id("graph-job-head"), by(page, "graph-start"))
    root = xml_of(page)
    assert parent_job(root, "cleanup") == ""
    assert [j.get("name") for j in root.find("subjobs")] == ["prepare", "cleanup"]
    # "audit" had no other sub-job: its empty <subjobs> went with the move
    assert root.find(".//job[@name='audit']/subjobs") is None
    assert_clean(wire)


def test_the_xpath_picker_lists_what_an_input_can_read_and_the_engine_checks_it(
        page: Page, wire: WireWatch) -> None:
    # the task of "report", under "each" (a loop), under "prepare"
    job(page, "report").locator("[data-testid='graph-task'][data-name='echo report']").click()
    fields = by(page, "graph-task-fields")
    expect(fields).to_be_visible()
    fields.get_by_test_id("editor-input").first.get_by_test_id("xpath-pick").first.click()
    picker = by(page, "xpath-picker")
    sources = picker.get_by_test_id("xpath-source")
    expect(sources).to_have_text(["who", "output of /bin/true", "loop item of each",
                                  "output of list"])
    sources.nth(3).click()
    expression = picker.get_by_test_id("xpath-expression")
    expect(expression).to_have_value("evqGetParentJob(1)/evqGetOutput('list')")
    picker.get_by_test_id("xpath-path").fill("items/item")
    expect(expression).to_have_value("evqGetParentJob(1)/evqGetOutput('list')/items/item")
    expect(picker.get_by_test_id("xpath-check")).to_have_text("✓ valid expression")
    doc_shot(page, "xpath-picker", picker)
    expression.fill("evqGetParentJob(1)/evqGetOutput('list')/items/[")
    expect(picker.get_by_test_id("xpath-check")).to_contain_text("✗")
    sources.nth(3).click()  # the path typed is kept
    expect(picker.get_by_test_id("xpath-check")).to_have_text("✓ valid expression")
    picker.get_by_test_id("xpath-use").click()
    expect(picker).to_have_count(0)
    expect(fields.get_by_test_id("content-input").first).to_have_value(
        "x<value select=\"evqGetParentJob(1)/evqGetOutput('list')/items/item\"/>")
    content = fields.get_by_test_id("content-input").first
    error = fields.get_by_test_id("content-error").first
    written = content.input_value()
    # a value part that does not parse is pointed at as it is typed, and fixed
    content.fill('x<value select="count(("/>')
    expect(error).not_to_be_empty()
    content.fill(written)
    expect(error).to_be_empty()
    task = xml_of(page).find(".//job[@name='report']/tasks/task")
    assert task.find("input/value").get("select") == \
        "evqGetParentJob(1)/evqGetOutput('list')/items/item"
    assert_clean(wire)


def test_the_sources_follow_where_the_expression_is_written(page: Page) -> None:
    got = page.evaluate("""async () => {
        const { xpathSources } = await import('./static/js/graph/xpath-sources.js');
        const doc = new DOMParser().parseFromString(`<workflow>
          <parameters><parameter name="p"/></parameters>
          <subjobs><job name="a" loop="x"><tasks><task name="t" path="/bin/t"/></tasks>
            <subjobs><job name="b" loop="y"><tasks>
              <task name="u" path="/bin/u" loop="z"><input name="i">v</input></task>
            </tasks></job></subjobs></job></subjobs>
          <custom-attributes><custom-attribute name="c" select=""/></custom-attributes>
        </workflow>`, 'application/xml');
        const one = (sel) => doc.querySelector(sel);
        const exprs = (el, attr) => xpathSources(el, attr).map((s) => s.expression);
        return {
          input: exprs(one('input')),
          jobCondition: exprs(one('job[name=b]'), 'condition'),
          jobIteration: exprs(one('job[name=b]'), 'iteration-condition'),
          taskLoop: exprs(one('task[name=u]'), 'loop'),
          custom: exprs(one('custom-attribute'), 'select'),
        };
    }""")
    parent_output = "evqGetParentJob(0)/evqGetOutput('t')"
    assert got["input"] == ["evqGetWorkflowParameter('p')", ".",
                            "evqGetCurrentJob()/evqGetContext()", parent_output,
                            "evqGetParentJob(0)/evqGetContext()"]
    # a job's own condition runs before its loop: its loop item is not there yet
    assert got["jobCondition"] == ["evqGetWorkflowParameter('p')", parent_output,
                                   "evqGetParentJob(0)/evqGetContext()"]
    assert got["jobIteration"][1] == "."
    assert "." not in got["taskLoop"]
    assert got["custom"] == ["evqGetWorkflowParameter('p')", "evqGetJob('a')/evqGetOutput('t')",
                             "evqGetJob('b')/evqGetOutput('u')"]


def test_the_instance_graph_is_coloured_by_state_and_follows_its_events(
        page: Page, wire: WireWatch, cluster: UiCluster) -> None:
    page.once("dialog", lambda dialog: dialog.accept())  # leave the edited workflow
    with cluster.client() as client:
        reply = client.exec("<instance action='launch' name='graphlive'>"
                            "<parameter name='who' value='graph'/></instance>")
    instance = reply.get("workflow-instance-id")
    page.goto(f"{cluster.url}#/instance/{instance}")
    details = by(page, "instance-details")
    details.get_by_test_id("tab-graph").click()
    graph = details.get_by_test_id("instance-graph")

    def task_of(job_name: str):
        return graph.locator(f"[data-testid='graph-job'][data-name='{job_name}'] "
                             "[data-testid='graph-task']")

    # one task at a time on the default queue: "count" holds it until the gate opens
    expect(task_of("wait")).to_have_attribute("data-state", "running")
    expect(task_of("wait")).to_contain_text("▶")
    expect(task_of("split")).to_have_attribute("data-state", "succeeded")
    expect(task_of("never")).to_have_attribute("data-state", "skipped")
    expect(task_of("broken")).to_have_attribute("data-state", "queued")
    loops = graph.locator("[data-testid='graph-job'][data-name='each']")
    expect(loops).to_have_count(3)
    expect(loops.nth(1).get_by_test_id("graph-job-marks")).to_have_text("iteration 2/3")
    doc_shot(page, "instance-graph-running", details)
    cluster.gate.touch()
    expect(task_of("wait")).to_have_attribute("data-state", "succeeded")
    expect(task_of("broken")).to_have_attribute("data-state", "failed")
    for i in range(3):
        expect(loops.nth(i).locator("[data-testid='graph-task']")).to_have_attribute(
            "data-state", "succeeded")
    task_of("wait").click()
    expect(details.get_by_test_id("task-output")).to_contain_text("line 6 for graph")
    doc_shot(page, "instance-graph", details)
    # the live output of the running task is polled until it ends: a poll may race its end
    assert_clean(wire, allowed=lambda f: f.code == "UNKNOWN_INSTANCE"
                 and f.command.startswith("<processmanager"))


def test_progress_a_retry_and_a_cancel_are_drawn(page: Page, wire: WireWatch,
                                                  cluster: UiCluster) -> None:
    with cluster.client() as client:
        reply = client.exec("<instance action='launch' name='graphstates'/>")
    instance = reply.get("workflow-instance-id")
    page.goto(f"{cluster.url}#/instance/{instance}")
    details = by(page, "instance-details")
    details.get_by_test_id("tab-graph").click()
    graph = details.get_by_test_id("instance-graph")

    def task_of(job_name: str):
        return graph.locator(f"[data-testid='graph-job'][data-name='{job_name}'] "
                             "[data-testid='graph-task']")

    expect(task_of("flaky")).to_have_attribute("data-state", "retrying")
    expect(task_of("flaky")).to_contain_text("⟲")
    expect(task_of("half")).to_have_attribute("data-state", "running")
    expect(task_of("later")).to_have_attribute("data-state", "queued")
    bar = task_of("half").get_by_test_id("graph-progress")
    expect(bar).to_have_count(1)
    row = task_of("half").locator(".task-row")
    assert float(bar.get_attribute("width")) == pytest.approx(
        0.4 * float(row.get_attribute("width")))
    details.get_by_test_id("details-cancel").click()
    by(page, "confirm-dialog").get_by_test_id("confirm-ok").click()
    expect(task_of("flaky")).to_have_attribute("data-state", "cancelled")
    expect(task_of("later")).to_have_attribute("data-state", "cancelled")
    expect(task_of("half")).to_have_attribute("data-state", "running")
    (cluster.directory / "gate2").touch()
    expect(task_of("half")).to_have_attribute("data-state", "succeeded")
    expect(task_of("half").get_by_test_id("graph-progress")).to_have_count(0)
    assert_clean(wire, allowed=lambda f: f.code == "UNKNOWN_INSTANCE"
                 and f.command.startswith("<processmanager"))
