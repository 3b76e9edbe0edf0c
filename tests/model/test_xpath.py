"""XPath 2.0 over instance trees with evQueue's functions (semantics.md §1.8–1.9)."""

from __future__ import annotations

import datetime

import pytest
from lxml import etree

from evqueue.model import xpath
from evqueue.model.xpath import (
    AttrRef,
    Scope,
    TextRef,
    WaitRequested,
    XPathDocument,
    XPathError,
    check,
    evaluate,
    evaluate_boolean,
    evaluate_first,
    evaluate_nodes,
    string_value,
)

TREE = """<workflow name="wf" evqid="1">
  <parameters><parameter name="db">sales</parameter><parameter name="n">3</parameter></parameters>
  <subjobs>
    <job name="top" evqid="2" context-id="1">
      <tasks>
        <task name="t" path="/bin/t" evqid="3">
          <input name="i">first input</input>
          <output retval="1">failed attempt</output>
          <output retval="0"><items><item n="1" evqid="7">a</item><item n="2" evqid="8">b</item>
            </items></output>
        </task>
      </tasks>
      <subjobs>
        <job name="mid" evqid="4" context-id="7">
          <tasks><task name="m" evqid="5"><output retval="0">mid output</output></task></tasks>
          <subjobs>
            <job name="low" evqid="6" context-id="8">
              <tasks><task name="l"/></tasks>
            </job>
          </subjobs>
        </job>
      </subjobs>
    </job>
  </subjobs>
</workflow>"""


@pytest.fixture
def doc() -> XPathDocument:
    return XPathDocument(etree.fromstring(TREE))


def job(doc: XPathDocument, name: str) -> etree._Element:
    return doc.root.xpath(f"//job[@name='{name}']")[0]


def strings(doc: XPathDocument, expression: str, item=None, scope=None) -> list[str]:
    item = doc.root if item is None else item
    return [string_value(x) for x in evaluate(doc, expression, item, scope or Scope())]


class TestCheck:
    @pytest.mark.parametrize("expression", [
        "evqGetParentJob(1)/evqGetOutput('t')",
        "evqGetCurrentJob()/evqGetContext()",
        "evqGetJob('j')/evqGetOutput('t')",
        "evqWait(count(//task[@status='TERMINATED']) = 2)",
        "evqGetOutput('t')[@retval=0]/items/item[last()]",
        "evqGetInput('/bin/t', 'i')",
        "evqGetParentJob('top')/@name",
        "concat(substring('abc', 2), text())",
    ])
    def test_valid(self, expression):
        assert check(expression) is None

    @pytest.mark.parametrize(("expression", "message"), [
        ("count(", "Too few arguments"),
        ("//item[", "unexpected end"),
        ("nosuch()", "unknown function 'nosuch'"),
        ("evqGetOutput()", ""),
        ("1 +", "unexpected end"),
    ])
    def test_invalid(self, expression, message):
        error = check(expression)
        assert error is not None and message in error

    def test_parsed_once(self):
        expression = "count(/workflow/subjobs) + 41"
        before = xpath._compile.cache_info().misses
        for _ in range(3):
            assert check(expression) is None
        assert xpath._compile.cache_info().misses == before + 1


class TestWorkflowFunctions:
    def test_workflow_parameter_is_a_string(self, doc):
        assert evaluate(doc, "evqGetWorkflowParameter('db')", doc.root, Scope()) == ["sales"]
        assert evaluate(doc, "evqGetWorkflowParameter('nope')", doc.root, Scope()) == [""]
        assert evaluate(doc, "evqGetWorkflowParameter('n') = '3'", doc.root, Scope()) == [True]

    def test_output_is_relative_to_the_parent_job(self, doc):
        scope = Scope(job=job(doc, "mid"))  # P = top
        assert strings(doc, "evqGetOutput('t')", scope=scope)[0] == "failed attempt"
        assert strings(doc, "evqGetOutput('/bin/t')[@retval=0]/items/item", scope=scope) == [
            "a", "b"]
        assert strings(doc, "evqGetOutput('t')[last()]/items/item[1]/@n", scope=scope) == ["1"]

    def test_parent_job(self, doc):
        scope = Scope(job=job(doc, "low"))  # C = low, P = mid
        assert strings(doc, "evqGetParentJob()/@name", scope=scope) == ["mid"]
        assert strings(doc, "evqGetParentJob(0)/@name", scope=scope) == ["mid"]
        assert strings(doc, "evqGetParentJob(1)/@name", scope=scope) == ["top"]
        assert strings(doc, "evqGetParentJob(2)/@name", scope=scope) == ["wf"]
        assert strings(doc, "evqGetParentJob('top')/@evqid", scope=scope) == ["2"]
        with pytest.raises(XPathError, match="Not enough parents"):
            evaluate(doc, "evqGetParentJob(3)", doc.root, scope)
        with pytest.raises(XPathError, match="Could not find job 'x' in parents"):
            evaluate(doc, "evqGetParentJob('x')", doc.root, scope)

    def test_functions_as_path_steps(self, doc):
        scope = Scope(job=job(doc, "low"))
        assert strings(doc, "evqGetParentJob(1)/evqGetOutput('t')[@retval=0]//item",
                       scope=scope) == ["a", "b"]
        assert strings(doc, "evqGetParentJob(0)/evqGetOutput('m')", scope=scope) == [
            "mid output"]
        assert strings(doc, "evqGetOutput('m')", scope=scope) == ["mid output"]
        assert strings(doc, "evqGetCurrentJob()/evqGetContext()", scope=scope) == ["b"]
        assert strings(doc, "evqGetContext()", scope=scope) == ["a"]  # P's context
        assert strings(doc, "evqGetParentJob()/evqGetContext()/@n", scope=scope) == ["1"]
        assert strings(doc, "/workflow/subjobs/job/evqGetInput('/bin/t', 'i')") == [
            "first input"]

    def test_input_matches_path_only(self, doc):
        scope = Scope(job=job(doc, "mid"))
        assert strings(doc, "evqGetInput('/bin/t', 'i')", scope=scope) == ["first input"]
        assert strings(doc, "evqGetInput('t', 'i')", scope=scope) == []

    def test_get_job_only_where_allowed(self, doc):
        expression = "evqGetJob('mid')/evqGetOutput('m')"
        with pytest.raises(XPathError, match="only available"):
            evaluate(doc, expression, doc.root, Scope())
        assert strings(doc, expression, scope=Scope(allow_get_job=True)) == ["mid output"]

    def test_current_job(self, doc):
        assert strings(doc, "evqGetCurrentJob()/@name", scope=Scope(job=job(doc, "mid"))) == [
            "mid"]
        with pytest.raises(XPathError, match="no current job"):
            evaluate(doc, "evqGetCurrentJob()", doc.root, Scope())

    def test_context_of_an_attribute(self, doc):
        low = job(doc, "low")
        low.set("context-id", "7/@n")
        assert evaluate(doc, "evqGetCurrentJob()/evqGetContext()", doc.root,
                        Scope(job=low)) == [AttrRef(doc.root.xpath("//item")[0], "n")]

    def test_evqwait(self, doc):
        waiting = Scope(can_wait=True)
        assert evaluate_boolean(doc, "evqWait(1 = 1)", doc.root, waiting) is True
        with pytest.raises(WaitRequested):
            evaluate_boolean(doc, "evqWait(count(//nothing) > 0)", doc.root, waiting)
        with pytest.raises(XPathError) as error:
            evaluate_boolean(doc, "evqWait(false())", doc.root, Scope())
        assert not isinstance(error.value, WaitRequested)


class TestResults:
    def test_condition_must_be_boolean(self, doc):
        assert evaluate_boolean(doc, "count(//item) > 1", doc.root, Scope()) is True
        for expression in ("count(//item)", "//item", "'true'", "(true(), true())"):
            with pytest.raises(XPathError, match="Expected boolean result"):
                evaluate_boolean(doc, expression, doc.root, Scope())

    def test_nodes(self, doc):
        items = evaluate_nodes(doc, "//item", doc.root, Scope())
        assert [i.text for i in items] == ["a", "b"]
        assert evaluate_nodes(doc, "//item/@n", doc.root, Scope())[0] == AttrRef(items[0], "n")
        assert evaluate_nodes(doc, "//item/text()", doc.root, Scope()) == [TextRef("a"),
                                                                           TextRef("b")]
        with pytest.raises(XPathError, match="Evaluation result is not a node"):
            evaluate_nodes(doc, "'literal'", doc.root, Scope())

    def test_first(self, doc):
        assert evaluate_first(doc, "//nothing", doc.root, Scope()) is None
        assert string_value(evaluate_first(doc, "//item", doc.root, Scope())) == "a"

    def test_string_values(self, doc):
        assert [string_value(v) for v in evaluate(doc, "(1 div 4, true(), 3, 'x')",
                                                  doc.root, Scope())] == [
            "0.25", "true", "3", "x"]
        assert string_value(doc.root.find("parameters")) == "sales3"

    def test_errors_never_escape_as_other_exceptions(self, doc):
        for expression in ("5 mod 0", "1 div 0", "'a' + 1", "xs:integer('x')",
                           "//item[@n = (1, 2)] + 1"):
            with pytest.raises(XPathError):
                evaluate(doc, expression, doc.root, Scope())

    def test_current_datetime_is_the_scope_time(self, doc):
        now = datetime.datetime(2030, 5, 6, 7, 8, 9)
        assert strings(doc, "string(year-from-dateTime(current-dateTime()))",
                       scope=Scope(now=now)) == ["2030"]


class TestStandardDialect:
    """Where evQueue's own XPath differs, standard XPath 2.0 applies (docs/compatibility.md)."""

    @pytest.mark.parametrize(("expression", "expected"), [
        ("substring('hello', 2, 3)", "ell"),  # 1-based (evQueue: 0-based)
        ("concat('a', 'b')", "ab"),  # evQueue has no concat()
        ("string((1, 2) != 1)", "true"),  # existential (evQueue: not(=))
        ("string(1.5 + 1.5)", "3"),  # decimal arithmetic (evQueue: 2)
        ("string(//item[last()])", "b"),  # [last()] selects the last item
        ("string(//item[@n > 1])", "b"),  # numeric comparison on nodes works
        ("string(5-2)", "3"),  # unspaced minus works
        ("string(-1 + 3)", "2"),
    ])
    def test_expression(self, doc, expression, expected):
        assert strings(doc, expression) == [expected]

    def test_union_needs_nodes(self, doc):
        with pytest.raises(XPathError):
            evaluate(doc, "(1, 2) | ()", doc.root, Scope())

    def test_union_binds_tighter_than_comparison(self, doc):
        # evQueue reads this as //item[1] | (//item[2] = //item[2])
        assert evaluate(doc, "//item[1] | //item[2] = //item[2]", doc.root, Scope()) == [True]


class TestDocumentCache:
    def test_attribute_changes_are_seen(self, doc):
        assert strings(doc, "//task[@name='t']/@status") == []
        doc.root.find(".//task").set("status", "QUEUED")
        assert strings(doc, "//task[@name='t']/@status") == ["QUEUED"]

    def test_structural_changes_after_changed(self, doc):
        assert evaluate(doc, "count(//item)", doc.root, Scope()) == [2]
        items = doc.root.find(".//items")
        etree.SubElement(items, "item").text = "c"
        doc.changed(items)
        assert evaluate(doc, "count(//item)", doc.root, Scope()) == [3]

    def test_context_item_is_relative(self, doc):
        task = doc.root.find(".//task")
        assert strings(doc, "@path", item=task) == ["/bin/t"]
        assert strings(doc, "../../@name", item=task) == ["top"]
