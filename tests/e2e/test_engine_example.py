"""The example workflow of semantics.md §1.3 run by a real node, checked against §2.7.

The ``dump`` job's remote parts (host, user, agent) are replaced by a local script; everything
else is the documented definition: XML output, a job loop with an iteration condition, ENV and
CMDLINE inputs, an evqWait condition, a SCRIPT task fed by ``<stdin><copy/></stdin>``, a global
retry schedule copied into the instance, a custom attribute and an automatic tag.
"""

from __future__ import annotations

import base64

import pytest

from tests.e2e.enginekit import EngineNode, read_lines, started

SHORT_SCHEDULE = ('<schedule><level retry_delay="10" retry_times="3"/>'
                  '<level retry_delay="600" retry_times="2"/></schedule>')


LIST_DONE = ("evqWait(count(/workflow/subjobs/job[@name='list']/tasks/task"
             "[@status='TERMINATED' and @retval='0']) = 1)")
FILE_INPUT = ("<input name=\"FILE\">/backup/<value select=\"evqGetWorkflowParameter('dbname')\"/>"
              "-<value select=\"@name\"/>.sql</input>")
TABLES = ("/workflow/subjobs/job[@name='list']/tasks/task[@name='list_tables']"
          "/output[@retval='0']/tables")


def backup_workflow(shared: str) -> str:
    return f"""<workflow>
  <parameters><parameter name="dbname"/><parameter name="target"/></parameters>
  <custom-attributes>
    <custom-attribute name="db" select="/workflow/parameters/parameter[@name='dbname']"
                      description="DB"/>
  </custom-attributes>
  <automatic-tags>
    <automatic-tag name="had-retries" condition="count(//task[@retry_schedule_level]) &gt; 0"/>
    <automatic-tag name="backup-done" condition="count(//task[@retval='0']) = 3"/>
  </automatic-tags>
  <subjobs>
    <job name="list">
      <tasks>
        <task name="list_tables" path="list_tables.sh --verbose" queue="default"
              output-method="XML" parameters-mode="CMDLINE" retry_schedule="short"
              retry_retval="75">
          <input name="db"><value select="evqGetWorkflowParameter('dbname')"/></input>
        </task>
      </tasks>
      <subjobs>
        <job name="dump" loop="evqGetOutput('list_tables')/tables/table"
             iteration-condition="@rows != '0'">
          <tasks>
            <task path="dump_table.sh" queue="dump" parameters-mode="ENV">
              <input name="TABLE"><value select="@name"/></input>
              {FILE_INPUT}
            </task>
          </tasks>
        </job>
      </subjobs>
    </job>
    <job name="report" condition="{LIST_DONE}">
      <tasks>
        <task type="SCRIPT" name="mail_report" queue="default" output-method="TEXT">
          <input>ops@example.com</input>
          <stdin><copy select="{TABLES}"/></stdin>
          <script>#!/bin/sh
cat > {shared}/tables.xml; echo "report sent to $1"</script>
        </task>
      </tasks>
    </job>
  </subjobs>
</workflow>"""


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("example")))
    try:
        node.task("list_tables.sh", f"""
echo "$*" > {node.shared}/list_args
sleep 0.3
echo '<tables><table name="orders" rows="10"/><table name="tmp" rows="0"/></tables>'
""")
        node.task("dump_table.sh", f"""
echo "$TABLE" >> {node.shared}/dumped
echo "dumped $TABLE to $FILE"
""")
        node.queue("dump", 2)
        content = base64.b64encode(SHORT_SCHEDULE.encode()).decode()
        node.exec(f"<retry_schedule action='create' name='short' content='{content}'/>")
        node.workflow("backup", backup_workflow(str(node.shared)))
        yield node
    finally:
        node.close()


@pytest.fixture(scope="module")
def instance(node):
    """The final XML of one run of ``backup`` (sales, db1)."""
    return node.run_workflow("backup", {"dbname": "sales", "target": "db1"})


def by_evqid(root, evqid: str):
    (element,) = root.xpath(f"//*[@evqid='{evqid}' and (self::job or self::task)]")
    return element


def test_instance_ends_without_error(instance):
    assert instance.get("status") == "TERMINATED"
    assert instance.get("errors") == "0"
    assert instance.get("name") == "backup"
    for counter in ("running_tasks", "queued_tasks", "retrying_tasks", "waiting_conditions"):
        assert instance.get(counter, "0") == "0", counter
    assert instance.get("end_time") and instance.get("start_time")


def test_parameters_are_written_as_text(instance):
    values = {p.get("name"): p.text for p in instance.iterfind("parameters/parameter")}
    assert values == {"dbname": "sales", "target": "db1"}


def test_list_tables_output_is_parsed_xml_with_loop_items_numbered(node, instance):
    task = by_evqid(instance, "3")
    assert task.get("name") == "list_tables"
    assert (task.get("status"), task.get("retval"), task.get("progression")) == (
        "TERMINATED", "0", "100")
    assert "pid" not in task.attrib and "tid" not in task.attrib
    (output,) = task.findall("output")
    assert output.get("method") == "xml" and output.get("retval") == "0"
    tables = output.find("tables")
    # evqids as evQueue's code gives them (each loop item is numbered when its clone runs;
    # §2.7's illustrative numbering differs): orders 6, its task 7, tmp 8, the 2nd clone 9
    assert [(t.get("name"), t.get("evqid")) for t in tables] == [("orders", "6"), ("tmp", "8")]
    assert task.find("input").get("mode") == "text" and task.find("input").text == "sales"
    assert task.find("stderr") is not None and task.find("log") is not None
    # static words of path first, then the CMDLINE inputs
    assert read_lines(node.shared / "list_args") == ["--verbose sales"]


def test_dump_runs_once_per_non_empty_table(node, instance):
    kept, skipped = by_evqid(instance, "5"), by_evqid(instance, "9")
    assert kept.get("name") == skipped.get("name") == "dump"
    assert kept.get("context-id") == "6" and kept.get("details") == "Condition evaluates to true"
    assert skipped.get("context-id") == "8"
    assert (skipped.get("status"), skipped.get("details")) == (
        "SKIPPED", "Condition evaluates to false")
    task = by_evqid(instance, "7")
    assert task.getparent().getparent() is kept and task.get("context-id") == "6"
    assert (task.get("status"), task.get("retval")) == ("TERMINATED", "0")
    inputs = {i.get("name"): i.text for i in task.iterfind("input")}
    assert inputs == {"TABLE": "orders", "FILE": "/backup/sales-orders.sql"}
    assert task.find("output").text == "dumped orders to /backup/sales-orders.sql\n"
    assert skipped.find("tasks/task").get("status") is None, "a skipped job runs no task"
    assert read_lines(node.shared / "dumped") == ["orders"]


def test_report_waits_for_list_then_gets_its_tables_on_stdin(node, instance):
    report = by_evqid(instance, "4")
    assert report.get("name") == "report"
    assert report.get("details") == "Condition evaluates to true"
    assert "condition" not in report.attrib
    task = by_evqid(instance, "10")
    assert task.get("name") == "mail_report"
    assert (task.get("status"), task.get("retval")) == ("TERMINATED", "0")
    stdin = task.find("stdin")
    assert stdin.get("mode") == "xml" and stdin.find("tables") is not None
    assert task.find("output").text == "report sent to ops@example.com\n"
    received = (node.shared / "tables.xml").read_text()
    assert received.startswith('<stdin mode="xml"><tables')
    assert 'name="orders"' in received and 'name="tmp"' in received


def test_global_retry_schedule_is_copied_into_the_instance(instance):
    (schedule,) = instance.findall("schedules/schedule")
    assert schedule.get("name") == "short"
    assert [(lv.get("retry_delay"), lv.get("retry_times")) for lv in schedule] == [
        ("10", "3"), ("600", "2")]
    assert instance[-1] is instance.find("schedules"), "appended after <subjobs>"


def test_history_row_custom_attribute_and_automatic_tags(node, instance):
    instance_id = instance.get("id")
    rows = node.exec("<instances action='list' customattribute_db='sales'/>")
    assert [w.get("id") for w in rows] == [instance_id]
    (row,) = rows
    assert (row.get("status"), row.get("errors"), row.get("name")) == (
        "TERMINATED", "0", "backup")
    assert [t.get("label") for t in row.find("tags")] == ["backup-done"]
    assert len(node.exec("<instances action='list' customattribute_db='other'/>")) == 0


def test_query_of_the_terminated_instance_is_the_stored_savepoint(node, instance):
    stored = node.savepoint(int(instance.get("id")))
    assert stored is not None and stored.get("status") == "TERMINATED"
    assert stored.get("errors") == "0"
    assert len(stored.xpath("//task[@status='TERMINATED']")) == 3
