"""Workflow definitions: the §1.3 example, every grammar rule, every semantic check."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from evqueue.errors import InvalidParameter, InvalidWorkflowParameters, InvalidXml
from evqueue.model.workflow import WorkflowDefinition, iter_expressions, validate_name

# semantics.md §1.3, verbatim.
EXAMPLE = (Path(__file__).parent / "workflow_example.xml").read_text(encoding="utf-8")


def workflow(tasks: str = '<task path="ls" queue="default"/>', *, head: str = "",
             job: str = "") -> str:
    """A one-job workflow around ``tasks``."""
    return f"<workflow>{head}<subjobs><job{job}><tasks>{tasks}</tasks></job></subjobs></workflow>"


def rejected(xml: str, **checks: object) -> InvalidXml:
    with pytest.raises(InvalidXml) as info:
        WorkflowDefinition.parse(xml, **checks)  # type: ignore[arg-type]
    assert info.value.code == "INVALID_XML"
    return info.value


# --- the example and what a definition exposes -------------------------------------------------

def test_example_validates_with_every_check() -> None:
    seen: list[str] = []

    def check_xpath(expression: str) -> None:
        seen.append(expression)

    definition = WorkflowDefinition.parse(EXAMPLE, check_xpath=check_xpath)
    assert definition.parameters == ("dbname", "target")
    assert [job.get("name") for job in definition.jobs()] == ["list", "dump", "report"]
    assert [t.get("name") or t.get("path") for t in definition.tasks()] == [
        "list_tables", "/usr/local/bin/dump_table", "mail_report",
    ]
    assert definition.queue_names == {"default", "dump"}
    assert definition.retry_schedule_names == ("short",)
    assert definition.root.tag == "workflow"
    assert seen == [
        "/workflow/parameters/parameter[@name='dbname']",
        "count(//task[@retry_schedule_level]) > 0",
        "evqGetWorkflowParameter('dbname')",
        "evqGetOutput('list_tables')/tables/table",
        "@rows != '0'",
        "/workflow/parameters/parameter[@name='target']",
        "@name",
        "evqGetWorkflowParameter('dbname')",
        "@name",
        "evqWait(count(/workflow/subjobs/job[@name='list']/tasks/task"
        "[@status='TERMINATED' and @retval='0']) = 1)",
        "/workflow/subjobs/job[@name='list']/tasks/task[@name='list_tables']"
        "/output[@retval='0']/tables",
    ]


def test_to_xml_round_trips() -> None:
    definition = WorkflowDefinition.parse(EXAMPLE)
    again = WorkflowDefinition.parse(definition.to_xml())
    assert again.to_xml() == definition.to_xml()
    assert "<!-- XML output" in definition.to_xml()  # comments are part of the definition
    assert 'condition="count(//task[@retry_schedule_level]) &gt; 0"' in definition.to_xml()


def test_from_base64_decodes_then_checks() -> None:
    content = base64.b64encode(EXAMPLE.encode()).decode()
    assert WorkflowDefinition.from_base64(content).parameters == ("dbname", "target")
    with pytest.raises(InvalidParameter, match="Invalid base64 sequence"):
        WorkflowDefinition.from_base64("not base64!")


def test_bytes_follow_their_encoding_declaration() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?>' + workflow(
        '<task path="echo" queue="q"><input>café</input></task>')
    definition = WorkflowDefinition.parse(xml.encode("latin-1"))
    assert definition.root.findtext("subjobs/job/tasks/task/input") == "café"


def test_text_ignores_its_encoding_declaration() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?>' + workflow(
        '<task path="echo" queue="q"><input>café</input></task>')
    definition = WorkflowDefinition.parse(xml)
    assert definition.root.findtext("subjobs/job/tasks/task/input") == "café"


def test_no_parameters_section_means_no_parameters() -> None:
    assert WorkflowDefinition.parse(workflow()).parameters == ()


# --- step 1: well-formed XML only, nothing fetched ---------------------------------------------

@pytest.mark.parametrize("xml", ["", "<workflow>", "hello", "<workflow></wf>", "<a/><b/>"])
def test_malformed_xml_is_invalid_xml(xml: str) -> None:
    assert rejected(xml).message.startswith("Invalid XML document : ")


def test_doctype_is_refused() -> None:
    error = rejected("<!DOCTYPE workflow>" + workflow())
    assert error.message == "Invalid XML document : DOCTYPE is not allowed"


def test_internal_entities_are_not_expanded() -> None:
    bomb = ('<!DOCTYPE workflow [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
            + workflow('<task path="&b;" queue="q"/>'))
    assert "DOCTYPE" in rejected(bomb).message


def test_external_entities_are_not_read() -> None:
    xxe = ('<!DOCTYPE workflow [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
           + workflow('<task path="ls" queue="q"><input>&x;</input></task>'))
    error = rejected(xxe)
    assert "root:" not in error.message


# --- step 2: evQueue's readable checks --------------------------------------------------------

@pytest.mark.parametrize(("tasks", "message"), [
    ('<task type="PYTHON" path="x" queue="q"/>',
     "Invalid type attribute value 'PYTHON'. Muse be 'BINARY' or 'SCRIPT'."),
    ('<task type="binary" path="x" queue="q"/>',
     "Invalid type attribute value 'binary'. Muse be 'BINARY' or 'SCRIPT'."),
    ('<task queue="q"/>', "Binary task must have a (non empty) 'path' attribute"),
    ('<task type="BINARY" path="" queue="q"/>',
     "Binary task must have a (non empty) 'path' attribute"),
    ('<task type="SCRIPT" queue="q"><script>x</script></task>',
     "Script task must have a (non empty) 'name' attribute"),
    ('<task type="SCRIPT" name="" queue="q"><script>x</script></task>',
     "Script task must have a (non empty) 'name' attribute"),
    ('<task type="SCRIPT" name="s" queue="q"/>', "Script tasks must have a script node"),
    ('<task type="SCRIPT" name="s" queue="q"><script/></task>', "Script cannot be empty"),
    ('<task type="SCRIPT" name="s" queue="q"><script><!-- no code --></script></task>',
     "Script cannot be empty"),
])
def test_task_rules(tasks: str, message: str) -> None:
    assert rejected(workflow(tasks)).message == message


@pytest.mark.parametrize("script", [
    "<script>echo hi</script>",
    "<script> </script>",  # blank text counts as text, as in evQueue
    "<script><value select=\"evqGetWorkflowParameter('code')\"/></script>",
])
def test_script_task_with_a_script(script: str) -> None:
    tasks = f'<task type="SCRIPT" name="s" queue="q">{script}</task>'
    assert WorkflowDefinition.parse(workflow(tasks)).root.find(".//script") is not None


@pytest.mark.parametrize("job", [
    "<job><tasks/></job>",
    "<job/>",
    '<job name="a"><tasks><task path="x" queue="q"/></tasks>'
    "<subjobs><job><tasks></tasks></job></subjobs></job>",
])
def test_empty_job(job: str) -> None:
    xml = f"<workflow><subjobs>{job}</subjobs></workflow>"
    assert rejected(xml).message == "A job cannot be empty"


def test_readable_checks_come_before_the_grammar() -> None:
    # Both a bad type and a missing queue: evQueue reports the type.
    error = rejected(workflow('<task type="X" path="a"/>'))
    assert error.message.startswith("Invalid type attribute value 'X'")


# --- step 3: the grammar (workflow.xsd) -------------------------------------------------------

VALID = [
    workflow(),
    '<workflow version="3"><subjobs><job><tasks><task path="a" queue="q"/></tasks></job>'
    "</subjobs></workflow>",
    workflow(head="<parameters/><custom-attributes/><automatic-tags/>"),
    workflow('<task path="a" queue="q" type="BINARY" name="n" wd="/tmp" parameters-mode="ENV" '
             'output-method="TEXT" merge-stderr="yes" use-agent="no" user="u" host="h" '
             'queue_host="qh" retry_retval="-3" retry_delay="1" retry_times="7" '
             'retry_schedule="s" loop="." condition="true()" iteration-condition="true()"/>'),
    workflow('<task path="a" queue="q"><input name="x" loop="." condition="true()">a'
             '<value select="1"/>b<copy select="."/>c</input><input/><stdin>x<copy select="."/>'
             '<value select="1"/></stdin><script>s<value select="1"/></script></task>'),
    workflow('<task path="a" queue="q"/><task path="b" queue="q"/>',
             job=' name="j" loop="." condition="true()" iteration-condition="true()"'),
    '<workflow><subjobs><job><tasks><task path="a" queue="q"/></tasks><subjobs><job><tasks>'
    '<task path="b" queue="q"/></tasks></job></subjobs></job><job><tasks><task path="c" '
    'queue="q"/></tasks></job></subjobs></workflow>',
]


@pytest.mark.parametrize("xml", VALID)
def test_grammar_accepts(xml: str) -> None:
    WorkflowDefinition.parse(xml)


INVALID = {
    "root is not workflow": '<flow><subjobs/></flow>',
    "namespaced root": '<workflow xmlns="urn:x"><subjobs><job><tasks><task path="a" '
                       'queue="q"/></tasks></job></subjobs></workflow>',
    "no subjobs": "<workflow/>",
    "subjobs without job": "<workflow><subjobs/></workflow>",
    "unknown root attribute": workflow().replace("<workflow>", '<workflow name="x">'),
    "text in the root": workflow().replace("<workflow>", "<workflow>text"),
    "parameters after subjobs": workflow() .replace("</workflow>", "<parameters/></workflow>"),
    "tags before attributes": workflow(head="<automatic-tags/><custom-attributes/>"),
    "parameter without name": workflow(head="<parameters><parameter/></parameters>"),
    "parameter with content": workflow(head='<parameters><parameter name="a">v</parameter>'
                                            "</parameters>"),
    "unknown element in parameters": workflow(head="<parameters><param name='a'/></parameters>"),
    "custom attribute without select": workflow(
        head='<custom-attributes><custom-attribute name="a"/></custom-attributes>'),
    "custom attribute without name": workflow(
        head='<custom-attributes><custom-attribute select="."/></custom-attributes>'),
    "automatic tag without condition": workflow(
        head='<automatic-tags><automatic-tag name="a"/></automatic-tags>'),
    "job with UI iteration_condition": workflow(job=' iteration_condition="true()"'),
    "unknown job attribute": workflow(job=' queue="q"'),
    "job subjobs before tasks": '<workflow><subjobs><job><subjobs><job><tasks><task path="a" '
                                'queue="q"/></tasks></job></subjobs><tasks><task path="b" '
                                'queue="q"/></tasks></job></subjobs></workflow>',
    "task without queue": workflow('<task path="a"/>'),
    "unknown task attribute": workflow('<task path="a" queue="q" timeout="3"/>'),
    "unknown task child": workflow('<task path="a" queue="q"><output/></task>'),
    "stdin before input": workflow('<task path="a" queue="q"><stdin/><input/></task>'),
    "script before stdin": workflow(
        '<task path="a" queue="q"><script>x</script><stdin/></task>'),
    "two stdin": workflow('<task path="a" queue="q"><stdin/><stdin/></task>'),
    "two scripts": workflow('<task path="a" queue="q"><script>a</script><script>b</script>'
                            "</task>"),
    "retry_delay zero": workflow('<task path="a" queue="q" retry_delay="0"/>'),
    "retry_delay negative": workflow('<task path="a" queue="q" retry_delay="-5"/>'),
    "retry_times zero": workflow('<task path="a" queue="q" retry_times="0"/>'),
    "retry_times text": workflow('<task path="a" queue="q" retry_times="three"/>'),
    "retry_retval text": workflow('<task path="a" queue="q" retry_retval="x"/>'),
    "retry_retval decimal": workflow('<task path="a" queue="q" retry_retval="1.5"/>'),
    "input with empty name": workflow('<task path="a" queue="q"><input name=""/></task>'),
    "input with iteration-condition": workflow(
        '<task path="a" queue="q"><input iteration-condition="true()"/></task>'),
    "unknown element in input": workflow('<task path="a" queue="q"><input><b/></input></task>'),
    "value without select": workflow('<task path="a" queue="q"><input><value/></input></task>'),
    "value with content": workflow(
        '<task path="a" queue="q"><input><value select=".">x</value></input></task>'),
    "copy without select": workflow('<task path="a" queue="q"><stdin><copy/></stdin></task>'),
    "stdin with attribute": workflow('<task path="a" queue="q"><stdin mode="xml"/></task>'),
    "copy in script": workflow('<task path="a" queue="q"><script><copy select="."/></script>'
                               "</task>"),
}


@pytest.mark.parametrize("xml", INVALID.values(), ids=INVALID.keys())
def test_grammar_rejects(xml: str) -> None:
    assert " on line " in rejected(xml).message


def test_grammar_errors_are_listed_one_per_line() -> None:
    xml = '<workflow>\n<subjobs><job><tasks>\n<task path="a" x="1"/>\n</tasks></job></subjobs>' \
          "\n</workflow>"
    lines = rejected(xml).message.split("\n")
    assert len(lines) == 2
    assert all(line.endswith(" on line 3") for line in lines)
    assert any("'x'" in line for line in lines)
    assert any("'queue'" in line for line in lines)


# --- step 4: our checks -----------------------------------------------------------------------

def test_duplicate_parameter_declaration() -> None:
    head = '<parameters><parameter name="a"/><parameter name="b"/><parameter name="a"/>' \
           "</parameters>"
    assert rejected(workflow(head=head)).message == "Parameter 'a' is declared more than once"


def test_queues_and_retry_schedules_need_not_exist_yet() -> None:
    # evQueue checks neither at save: they are looked up at launch and when tasks are queued.
    xml = workflow('<task path="a" queue="later" retry_schedule="later"/>'
                   '<task path="b" queue="ssh@web1" queue_host="{/workflow/@host}"/>')
    definition = WorkflowDefinition.parse(xml, check_xpath=lambda e: None)
    assert definition.queue_names == {"later", "ssh@web1"}
    assert definition.retry_schedule_names == ("later",)


def test_retry_schedule_names_are_given_once_each_in_document_order() -> None:
    xml = workflow('<task path="a" queue="q" retry_schedule="b"/>'
                   '<task path="b" queue="q" retry_schedule=""/>'
                   '<task path="c" queue="q" retry_schedule="b"/>'
                   '<task path="d" queue="q" retry_schedule="a"/><task path="e" queue="q"/>')
    definition = WorkflowDefinition.parse(xml)
    # an empty name is one too: evQueue looks it up at launch (and never finds it)
    assert definition.retry_schedule_names == ("b", "", "a")


def test_xpath_errors_name_the_expression_and_its_place() -> None:
    def check_xpath(expression: str) -> str | None:
        return "unbalanced bracket" if "[" in expression and "]" not in expression else None

    xml = workflow('<task path="a" queue="q">\n<input condition="a[1">x</input></task>')
    error = rejected(xml, check_xpath=check_xpath)
    assert error.message == (
        "XPath expression error in 'a[1' (attribute 'condition' of <input> on line 2) : "
        "unbalanced bracket"
    )


@pytest.mark.parametrize(("xml", "expression"), [
    (workflow(head='<custom-attributes><custom-attribute name="c" select="BAD"/>'
                   "</custom-attributes>"), "BAD"),
    (workflow(head='<automatic-tags><automatic-tag name="t" condition="BAD"/></automatic-tags>'),
     "BAD"),
    (workflow(job=' condition="BAD"'), "BAD"),
    (workflow(job=' loop="BAD"'), "BAD"),
    (workflow(job=' iteration-condition="BAD"'), "BAD"),
    (workflow('<task path="a" queue="q" condition="BAD"/>'), "BAD"),
    (workflow('<task path="a" queue="q" loop="BAD"/>'), "BAD"),
    (workflow('<task path="a" queue="q" iteration-condition="BAD"/>'), "BAD"),
    (workflow('<task path="a" queue="q"><input loop="BAD"/></task>'), "BAD"),
    (workflow('<task path="a" queue="q"><input><value select="BAD"/></input></task>'), "BAD"),
    (workflow('<task path="a" queue="q"><stdin><copy select="BAD"/></stdin></task>'), "BAD"),
    (workflow('<task path="a" queue="q"><script><value select="BAD"/></script></task>'), "BAD"),
    (workflow('<task path="a" queue="q" host="x{BAD}y"/>'), "BAD"),
    (workflow('<task path="a" queue="q" queue_host="{BAD}"/>'), "BAD"),
    (workflow('<task path="a" queue="q" user="{ok}-{BAD}"/>'), "BAD"),
])
def test_every_expression_is_checked(xml: str, expression: str) -> None:
    error = rejected(xml, check_xpath=lambda e: "no" if e == "BAD" else None)
    assert error.message.startswith(f"XPath expression error in '{expression}' (")


def test_static_attributes_are_not_expressions() -> None:
    # path, wd and queue are never expanded; text outside {…} is not an expression.
    xml = workflow('<task path="{x}" wd="{y}" queue="q" host="plain" user="a}b{"/>')
    assert list(iter_expressions(WorkflowDefinition.parse(xml).root)) == []


def test_our_checks_run_in_order() -> None:
    xml = workflow('<task path="a" queue="nowhere" retry_schedule="none" condition="BAD"/>',
                   head='<parameters><parameter name="p"/><parameter name="p"/></parameters>')
    with pytest.raises(InvalidXml, match="declared more than once"):
        WorkflowDefinition.parse(xml, check_xpath=lambda e: "no")
    xml = xml.replace('name="p"/></parameters>', 'name="p2"/></parameters>')
    with pytest.raises(InvalidXml, match="XPath expression error"):
        WorkflowDefinition.parse(xml, check_xpath=lambda e: "no")


# --- launch and schedule parameters -----------------------------------------------------------

def test_launch_parameters() -> None:
    definition = WorkflowDefinition.parse(EXAMPLE)
    definition.check_launch_parameters(["target", "dbname"])
    definition.check_launch_parameters(["dbname", "target", "dbname"])  # repeats count once
    with pytest.raises(InvalidWorkflowParameters) as info:
        definition.check_launch_parameters(["dbname", "other"])
    assert info.value.code == "INVALID_WORKFLOW_PARAMETERS"
    assert info.value.message == "Unknown parameter : other"
    with pytest.raises(InvalidWorkflowParameters) as info:
        definition.check_launch_parameters(["dbname", "dbname"])
    assert info.value.message == (
        "Invalid number of parameters passed to workflow (passed 1, expected 2)")
    WorkflowDefinition.parse(workflow()).check_launch_parameters([])


def test_schedule_parameters() -> None:
    definition = WorkflowDefinition.parse(EXAMPLE)
    definition.check_schedule_parameters(["dbname", "target"])
    with pytest.raises(InvalidWorkflowParameters) as info:
        definition.check_schedule_parameters([])
    assert info.value.message == "Invalid number of parameters. Workflow expects 2, but 0 are " \
                                 "given."


# --- names --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "backup-db_2", "A" * 64, "0", "-", "_"])
def test_valid_workflow_names(name: str) -> None:
    validate_name(name)


@pytest.mark.parametrize("name", ["A" * 65, "a b", "a.b", "a@b", "café", "a/b", "ａ", "a\n"])
def test_invalid_workflow_names(name: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        validate_name(name)
    assert info.value.code == "INVALID_PARAMETER"
    assert info.value.message == "Invalid workflow name"


def test_empty_workflow_name() -> None:
    with pytest.raises(InvalidParameter, match="^Workflow name cannot be empty$"):
        validate_name("")
