"""Workflow definitions shared by the engine tests (the §1.3 example of semantics.md and
small ones for single features)."""

from __future__ import annotations

__all__ = ["BACKUP", "CHAIN", "SHORT", "TWO_LEVELS", "simple"]

#: semantics.md §1.3, as stored (long lines are spliced in below).
BACKUP = """<workflow>
  <parameters>
    <parameter name="dbname"/>
    <parameter name="target"/>
  </parameters>
  <custom-attributes>
    <custom-attribute name="db" select="/workflow/parameters/parameter[@name='dbname']"
      description="DB"/>
  </custom-attributes>
  <automatic-tags>
    <automatic-tag name="had-retries" condition="count(//task[@retry_schedule_level]) &gt; 0"/>
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
            <task path="/usr/local/bin/dump_table" queue="dump" parameters-mode="ENV"
                  host="{/workflow/parameters/parameter[@name='target']}" user="backup"
                  use-agent="yes">
              <input name="TABLE"><value select="@name"/></input>
              @FILE@
            </task>
          </tasks>
        </job>
      </subjobs>
    </job>
    <job name="report" condition="@REPORT@">
      <tasks>
        <task type="SCRIPT" name="mail_report" queue="default" output-method="TEXT">
          <input>ops@example.com</input>
          <stdin><copy select="@TABLES@"/></stdin>
          <script>#!/bin/sh
cat > /tmp/tables.xml; echo "report sent to $1"</script>
        </task>
      </tasks>
    </job>
  </subjobs>
</workflow>""".replace(
    "@FILE@", '<input name="FILE">/backup/<value select="evqGetWorkflowParameter(\'dbname\')"/>'
              '-<value select="@name"/>.sql</input>').replace(
    "@REPORT@", "evqWait(count(/workflow/subjobs/job[@name='list']/tasks/task"
                "[@status='TERMINATED' and @retval='0']) = 1)").replace(
    "@TABLES@", "/workflow/subjobs/job[@name='list']/tasks/task[@name='list_tables']"
                "/output[@retval='0']/tables")

#: The global retry schedule ``short`` of §1.3.
SHORT = ('<schedule><level retry_delay="10" retry_times="3"/>'
         '<level retry_delay="600" retry_times="2"/></schedule>')

#: A schedule of two levels of one retry each.
TWO_LEVELS = ('<schedule><level retry_delay="10" retry_times="1"/>'
              '<level retry_delay="60" retry_times="1"/></schedule>')

#: Three tasks in a chain: t2 gets t1's XML output, t3 runs only if t2 said "go".
CHAIN = """<workflow>
  <subjobs>
    <job name="j1">
      <tasks><task name="t1" path="/bin/t1" queue="default" output-method="XML"/></tasks>
      <subjobs>
        <job name="j2">
          <tasks>
            <task name="t2" path="/bin/t2" queue="default">
              <input name="host"
                ><value select="evqGetOutput('t1')/servers/server[1]/@name"/></input>
              <input name="count"><value select="count(evqGetOutput('t1')/servers/server)"/></input>
            </task>
          </tasks>
          <subjobs>
            <job name="j3">
              <tasks>
                <task name="t3" path="/bin/t3" queue="default"
                      condition="normalize-space(evqGetOutput('t2')) = 'go'"/>
              </tasks>
            </job>
          </subjobs>
        </job>
      </subjobs>
    </job>
  </subjobs>
</workflow>"""


def simple(*tasks: str, job_attrs: str = "", extra_jobs: str = "") -> str:
    """A one-job workflow holding *tasks* (raw ``<task>`` XML)."""
    return (f'<workflow><subjobs><job name="main" {job_attrs}><tasks>{"".join(tasks)}'
            f"</tasks></job>{extra_jobs}</subjobs></workflow>")
