"""Every function an expression can call, evaluated on a node started with ``LANG=C``.

The table :data:`SAMPLES` holds at least one call of each function of the XPath layer's symbol
table (standard XPath 2.0 functions, ``xs:`` constructors, evQueue's ``evq*``) with its expected
result; a function without a sample fails :func:`test_every_function_has_a_sample`, so a function
added later gets a sample too. The samples run in a child process set up like the engine
(``env -i PATH=… LANG=C``, then ``setlocale(LC_ALL, 'C.UTF-8')``), each one parsed and evaluated
twice: in that locale a string collation used to fail once and then block the process for good.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest
from elementpath import ElementPathError
from elementpath.tdop import Parser

from evqueue.model import xpath
from evqueue.model.xpath import XPathError

#: The base of locale collation URIs; ``lang=xx`` names a locale no machine has.
UCA = "http://www.w3.org/2013/collation/UCA"
CODEPOINT = "http://www.w3.org/2005/xpath-functions/collation/codepoint"
#: Bounds the child process: a blocked evaluation fails the test instead of the suite.
CHILD_TIMEOUT = 120


@dataclass(frozen=True)
class Raises:
    """The expected outcome of a sample that fails: an :class:`XPathError` containing *text*."""

    text: str


#: A sample: an expression and the string values of its result items, or the error it raises.
Sample = tuple[str, tuple[str, ...] | Raises]

# fmt: off
SAMPLES: dict[str, tuple[Sample, ...]] = {
    # evQueue's functions (context: job "mid", parent job "top")
    "evqGetWorkflowParameter": (("evqGetWorkflowParameter('db')", ("sales",)),),
    "evqGetCurrentJob": (("evqGetCurrentJob()/@name", ("mid",)),),
    "evqGetParentJob": (("evqGetParentJob()/@name", ("top",)),
                        ("evqGetParentJob('wf')/@name", ("wf",))),
    "evqGetOutput": (("evqGetOutput('t')/item", ("a",)),),
    "evqGetInput": (("evqGetInput('/bin/t', 'i')", ("in",)),),
    "evqGetContext": (("evqGetContext()/@n", ("1",)),),
    "evqGetJob": (("evqGetJob('mid')/@evqid", ("4",)),),
    "evqWait": (("evqWait(contains(evqGetWorkflowParameter('db'), 'al'))", ("true",)),),
    # context, nodes and names
    "last": (("(5, 6, 7)[last()]", ("7",)),),
    "position": (("(5, 6, 7)[position() = 2]", ("6",)),),
    "count": (("count((1, 2, 3))", ("3",)),),
    "name": (("name()", ("job",)),),
    "local-name": (("local-name(..)", ("subjobs",)),),
    "namespace-uri": (("namespace-uri()", ("",)),),
    "root": (("root()/*/@name", ("wf",)),),
    "lang": (("lang('en')", ("true",)),),
    "id": (("id('i7')/@n", ("1",)),),
    "element-with-id": (("element-with-id('i7')/@n", ("1",)),),
    "idref": (("count(idref('i7'))", ("1",)),),
    "node-name": (("node-name(.)", ("job",)),),
    "nilled": (("nilled(.)", ("false",)),),
    "data": (("data(@name)", ("mid",)),),
    "base-uri": (("base-uri(.)", ("",)),),
    "document-uri": (("document-uri(/)", ()),),
    "static-base-uri": (("static-base-uri()", ()),),
    "in-scope-prefixes": (("in-scope-prefixes(.)", ("xml",)),),
    # elementpath answers only for its own prefixes whose namespace an element of the tree uses
    "namespace-uri-for-prefix": (("namespace-uri-for-prefix('xs', .)", ()),),
    "resolve-QName": (("resolve-QName('xml:lang', .)", ("xml:lang",)),),
    "prefix-from-QName": (("prefix-from-QName(QName('http://x/', 'p:l'))", ("p",)),),
    "local-name-from-QName": (("local-name-from-QName(QName('http://x/', 'p:l'))", ("l",)),),
    "namespace-uri-from-QName": (("namespace-uri-from-QName(QName('http://x/', 'p:l'))",
                                  ("http://x/",)),),
    "doc": (("doc('x.xml')", Raises("FODC0002")),),
    "doc-available": (("doc-available('x.xml')", ("false",)),),
    "collection": (("collection()", Raises("FODC0002")),),
    # booleans, numbers, sequences
    "true": (("true()", ("true",)),),
    "false": (("false()", ("false",)),),
    "not": (("not(false())", ("true",)),),
    "number": (("number('1.5')", ("1.5",)),),
    "sum": (("sum((1, 2, 3))", ("6",)),),
    "avg": (("avg((1, 2, 3, 4))", ("2.5",)),),
    "abs": (("abs(-3)", ("3",)),),
    "ceiling": (("ceiling(1.2)", ("2",)),),
    "floor": (("floor(1.8)", ("1",)),),
    "round": (("round(2.5)", ("3",)),),
    "round-half-to-even": (("round-half-to-even(2.5)", ("2",)),),
    "empty": (("empty(())", ("true",)),),
    "exists": (("exists(evqGetOutput('t'))", ("true",)),),
    "insert-before": (("insert-before((1, 3), 2, 2)", ("1", "2", "3")),),
    "remove": (("remove((1, 2, 3), 2)", ("1", "3")),),
    "reverse": (("reverse((1, 2, 3))", ("3", "2", "1")),),
    "subsequence": (("subsequence((1, 2, 3, 4), 2, 2)", ("2", "3")),),
    "unordered": (("count(unordered((1, 2)))", ("2",)),),
    "zero-or-one": (("zero-or-one(1)", ("1",)),),
    "one-or-more": (("one-or-more((1, 2))", ("1", "2")),),
    "exactly-one": (("exactly-one(1)", ("1",)),),
    # strings: those comparing strings use the default collation, Unicode code points
    "concat": (("concat('a', 'b', 1)", ("ab1",)),),
    "string-length": (("string-length('héllo')", ("5",)),),
    "normalize-space": (("normalize-space('  a  b ')", ("a b",)),),
    "translate": (("translate('abc', 'ab', 'AB')", ("ABc",)),),
    "substring": (("substring('hello', 2, 3)", ("ell",)),),
    "upper-case": (("upper-case('abc')", ("ABC",)),),
    "lower-case": (("lower-case('ABC')", ("abc",)),),
    "string-join": (("string-join(('a', 'b'), '-')", ("a-b",)),),
    "matches": (("matches('abc', '^a.c$')", ("true",)),),
    "replace": (("replace('abc', 'b', 'X')", ("aXc",)),),
    "tokenize": (("tokenize('a,b,c', ',')", ("a", "b", "c")),),
    "codepoints-to-string": (("codepoints-to-string((72, 105))", ("Hi",)),),
    "string-to-codepoints": (("string-to-codepoints('Hi')", ("72", "105")),),
    "codepoint-equal": (("codepoint-equal('a', 'a')", ("true",)),),
    "normalize-unicode": (("normalize-unicode(codepoints-to-string((101, 769)))", ("\u00e9",)),),
    "encode-for-uri": (("encode-for-uri('a b')", ("a%20b",)),),
    "iri-to-uri": (("iri-to-uri('http://x/é')", ("http://x/%C3%A9",)),),
    "escape-html-uri": (("escape-html-uri('http://x/é')", ("http://x/%C3%A9",)),),
    "resolve-uri": (("resolve-uri('b', 'http://x/a/')", ("http://x/a/b",)),),
    "contains": (("contains(evqGetWorkflowParameter('db'), 'al')", ("true",)),
                 (f"contains('abc', 'b', '{CODEPOINT}')", ("true",))),
    "starts-with": (("starts-with('abc', 'ab')", ("true",)),),
    "ends-with": (("ends-with('abc', 'bc')", ("true",)),),
    "substring-before": (("substring-before('a-b', '-')", ("a",)),),
    "substring-after": (("substring-after('a-b', '-')", ("b",)),),
    "compare": (("compare('a', 'B')", ("1",)),
                (f"compare('a', 'b', '{UCA}?lang=xx')", Raises("Unsupported collation")),
                (f"compare('a', 'b', '{UCA}?lang=xx;fallback=no')",
                 Raises("Unsupported collation")),
                (f"compare(evqGetCurrentJob()/@name, 'b', '{UCA}?lang=xx')",
                 Raises("Unsupported collation"))),
    "max": (("max(('a', 'B'))", ("a",)),),
    "min": (("min(('a', 'B'))", ("B",)),),
    "index-of": (("index-of(('a', 'b', 'a'), 'a')", ("1", "3")),),
    "distinct-values": (("distinct-values(('a', 'b', 'a'))", ("a", "b")),),
    "deep-equal": (("deep-equal(('a', 1), ('a', 1))", ("true",)),),
    "default-collation": (("default-collation()", (CODEPOINT,)),),
    "trace": (("trace('a', 'label')", ("a",)),),
    "error": (("error((), 'boom')", Raises("boom")),),
    # dates, times and durations (the evaluation's now is the engine's local 2024-05-06T07:08:09)
    "current-dateTime": (("current-dateTime()", ("2024-05-06T07:08:09",)),),
    "current-date": (("current-date()", ("2024-05-06",)),),
    "current-time": (("current-time()", ("07:08:09",)),),
    "implicit-timezone": (("implicit-timezone()", ("PT0S",)),),
    "year-from-dateTime": (("year-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))",
                            ("2024",)),),
    "month-from-dateTime": (("month-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))",
                             ("5",)),),
    "day-from-dateTime": (("day-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))", ("6",)),),
    "hours-from-dateTime": (("hours-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))",
                             ("7",)),),
    "minutes-from-dateTime": (("minutes-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))",
                               ("8",)),),
    "seconds-from-dateTime": (("seconds-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))",
                               ("9",)),),
    "timezone-from-dateTime": (("timezone-from-dateTime(xs:dateTime('2024-05-06T07:08:09Z'))",
                                ("PT0S",)),),
    "year-from-date": (("year-from-date(xs:date('2024-05-06'))", ("2024",)),),
    "month-from-date": (("month-from-date(xs:date('2024-05-06'))", ("5",)),),
    "day-from-date": (("day-from-date(xs:date('2024-05-06'))", ("6",)),),
    "timezone-from-date": (("timezone-from-date(xs:date('2024-05-06+02:00'))", ("PT2H",)),),
    "hours-from-time": (("hours-from-time(xs:time('07:08:09'))", ("7",)),),
    "minutes-from-time": (("minutes-from-time(xs:time('07:08:09'))", ("8",)),),
    "seconds-from-time": (("seconds-from-time(xs:time('07:08:09'))", ("9",)),),
    "timezone-from-time": (("timezone-from-time(xs:time('07:08:09-05:00'))", ("-PT5H",)),),
    "years-from-duration": (("years-from-duration(xs:yearMonthDuration('P2Y3M'))", ("2",)),),
    "months-from-duration": (("months-from-duration(xs:yearMonthDuration('P2Y3M'))", ("3",)),),
    "days-from-duration": (("days-from-duration(xs:dayTimeDuration('P1DT2H3M4.5S'))", ("1",)),),
    "hours-from-duration": (("hours-from-duration(xs:dayTimeDuration('P1DT2H3M4.5S'))",
                             ("2",)),),
    "minutes-from-duration": (("minutes-from-duration(xs:dayTimeDuration('P1DT2H3M4.5S'))",
                               ("3",)),),
    "seconds-from-duration": (("seconds-from-duration(xs:dayTimeDuration('P1DT2H3M4.5S'))",
                               ("4.5",)),),
    "adjust-dateTime-to-timezone": (
        ("adjust-dateTime-to-timezone(xs:dateTime('2024-05-06T07:08:09Z'),"
         " xs:dayTimeDuration('PT2H'))", ("2024-05-06T09:08:09+02:00",)),),
    "adjust-date-to-timezone": (
        ("adjust-date-to-timezone(xs:date('2024-05-06'), xs:dayTimeDuration('PT2H'))",
         ("2024-05-06+02:00",)),),
    "adjust-time-to-timezone": (
        ("adjust-time-to-timezone(xs:time('07:08:09Z'), xs:dayTimeDuration('PT2H'))",
         ("09:08:09+02:00",)),),
    # fn: functions that are also xs: constructors
    "string": (("string(evqGetCurrentJob()/@name)", ("mid",)), ("xs:string(1)", ("1",))),
    "boolean": (("boolean(())", ("false",)), ("xs:boolean('1')", ("true",))),
    "QName": (("QName('http://x/', 'p:l')", ("p:l",)), ("xs:QName('xml:lang')", ("xml:lang",))),
    "dateTime": (("dateTime(xs:date('2024-05-06'), xs:time('07:08:09'))",
                  ("2024-05-06T07:08:09",)),
                 ("xs:dateTime('2024-05-06T07:08:09')", ("2024-05-06T07:08:09",))),
    # xs: constructors
    "untypedAtomic": (("xs:untypedAtomic('a')", ("a",)),),
    "normalizedString": (("xs:normalizedString('a')", ("a",)),),
    "token": (("xs:token(' a  b ')", ("a b",)),),
    "language": (("xs:language('en-US')", ("en-US",)),),
    "NMTOKEN": (("xs:NMTOKEN('a1')", ("a1",)),),
    "NMTOKENS": (("xs:NMTOKENS('a b')", ("a", "b")),),
    "Name": (("xs:Name('a:b')", ("a:b",)),),
    "NCName": (("xs:NCName('ab')", ("ab",)),),
    "ID": (("xs:ID('i1')", ("i1",)),),
    "IDREF": (("xs:IDREF('i1')", ("i1",)),),
    "IDREFS": (("xs:IDREFS('i1 i2')", ("i1", "i2")),),
    "ENTITY": (("xs:ENTITY('e')", ("e",)),),
    "ENTITIES": (("xs:ENTITIES('e f')", ("e", "f")),),
    "NOTATION": (("xs:NOTATION('a')", Raises("XPST0017")),),  # abstract type
    "anyURI": (("xs:anyURI('http://x/')", ("http://x/",)),),
    "decimal": (("xs:decimal('1.50')", ("1.5",)),),
    "double": (("xs:double('1e3')", ("1000",)),),
    "float": (("xs:float('1.5')", ("1.5",)),),
    "integer": (("xs:integer('042')", ("42",)),),
    "nonNegativeInteger": (("xs:nonNegativeInteger('0')", ("0",)),),
    "positiveInteger": (("xs:positiveInteger('1')", ("1",)),),
    "nonPositiveInteger": (("xs:nonPositiveInteger('0')", ("0",)),),
    "negativeInteger": (("xs:negativeInteger('-1')", ("-1",)),),
    "long": (("xs:long('-5')", ("-5",)),),
    "int": (("xs:int('-5')", ("-5",)),),
    "short": (("xs:short('-5')", ("-5",)),),
    "byte": (("xs:byte('-128')", ("-128",)),),
    "unsignedLong": (("xs:unsignedLong('5')", ("5",)),),
    "unsignedInt": (("xs:unsignedInt('5')", ("5",)),),
    "unsignedShort": (("xs:unsignedShort('5')", ("5",)),),
    "unsignedByte": (("xs:unsignedByte('255')", ("255",)),),
    "date": (("xs:date('2024-05-06')", ("2024-05-06",)),),
    "time": (("xs:time('07:08:09')", ("07:08:09",)),),
    "dateTimeStamp": (("xs:dateTimeStamp('2024-05-06T07:08:09Z')", Raises("XSD 1.1")),),
    "gDay": (("xs:gDay('---06')", ("---06",)),),
    "gMonth": (("xs:gMonth('--05')", ("--05",)),),
    "gMonthDay": (("xs:gMonthDay('--05-06')", ("--05-06",)),),
    "gYear": (("xs:gYear('2024')", ("2024",)),),
    "gYearMonth": (("xs:gYearMonth('2024-05')", ("2024-05",)),),
    "duration": (("xs:duration('P1Y2D')", ("P1Y2D",)),),
    "yearMonthDuration": (("xs:yearMonthDuration('P14M')", ("P1Y2M",)),),
    "dayTimeDuration": (("xs:dayTimeDuration('PT90M')", ("PT1H30M",)),),
    "base64Binary": (("xs:base64Binary('SGk=')", ("SGk=",)),),
    "hexBinary": (("xs:hexBinary('4869')", ("4869",)),),
}
# fmt: on

#: The child process: reads the expressions as JSON on stdin, answers JSON on stdout.
CHILD = r'''
import datetime, json, locale, sys
locale.setlocale(locale.LC_ALL, "C.UTF-8")  # what the engine does at start-up (core.locale)

from lxml import etree
from evqueue.model.xpath import Scope, XPathDocument, XPathError, check, evaluate, string_value

TREE = """<workflow name="wf" evqid="1" xml:lang="en">
  <parameters><parameter name="db">sales</parameter></parameters>
  <subjobs>
    <job name="top" evqid="2" context-id="7">
      <tasks><task name="t" path="/bin/t" evqid="3"><input name="i">in</input>
        <output retval="0"><item n="1" evqid="7" xml:id="i7">a</item></output></task></tasks>
      <subjobs><job name="mid" evqid="4"><tasks><task name="m" ref="i7"/></tasks></job></subjobs>
    </job>
  </subjobs>
</workflow>"""

doc = XPathDocument(etree.fromstring(TREE))
mid = doc.root.xpath("//job[@name='mid']")[0]
now = datetime.datetime(2024, 5, 6, 7, 8, 9)  # the engine's clock: local, naive
scope = Scope(job=mid, allow_get_job=True, now=now)


def run(expression):
    try:
        return ["ok", [string_value(x) for x in evaluate(doc, expression, mid, scope)]]
    except XPathError as exc:
        return ["error", exc.message]


answers = []
for expression in json.load(sys.stdin):
    answers.append({"check": check(expression), "runs": [run(expression), run(expression)]})
    print(expression, file=sys.stderr, flush=True)  # the last one named is the one that blocked
json.dump(answers, sys.stdout)
'''


def _calls(token: Any) -> set[str]:
    """The function symbols a parsed expression calls."""
    found = {token.symbol} if "function" in str(token.label) else set()
    for child in token:
        found |= _calls(child)
    return found


def _syntax_tree(expression: str) -> Any:
    """The parsed expression, without the static evaluation that may fail on purpose."""
    parser = xpath._EvqParser(default_collation=CODEPOINT)
    return Parser.parse(parser, expression)


def _function_symbols() -> set[str]:
    return {symbol for symbol, token in xpath._EvqParser.symbol_table.items()
            if "function" in str(token.label)}


def _samples() -> list[tuple[str, str, tuple[str, ...] | Raises]]:
    return [(name, expression, expected)
            for name, samples in SAMPLES.items() for expression, expected in samples]


@pytest.fixture(scope="module")
def answers() -> dict[str, dict[str, Any]]:
    """Each sample expression's answers from a child process with ``LANG=C`` and no LC_*."""
    expressions = [expression for _, expression, _ in _samples()]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C"}
    try:
        child = subprocess.run(
            [sys.executable, "-c", CHILD], input=json.dumps(expressions), env=env,
            capture_output=True, text=True, timeout=CHILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        done = stderr.splitlines()
        pytest.fail(f"the evaluations blocked after {len(done)} samples; last done: "
                    f"{done[-1] if done else '-'}")
    assert child.returncode == 0, child.stderr
    return dict(zip(expressions, json.loads(child.stdout), strict=True))


def test_every_function_has_a_sample():
    missing = _function_symbols() - SAMPLES.keys()
    assert not missing, f"functions without a sample in SAMPLES: {sorted(missing)}"
    assert not SAMPLES.keys() - _function_symbols(), "samples of functions that do not exist"


@pytest.mark.parametrize(("name", "expression"), [(n, e) for n, e, _ in _samples()])
def test_sample_calls_its_function(name, expression):
    try:
        tree = _syntax_tree(expression)
    except ElementPathError as exc:  # a function refused by name while parsing
        assert f"'xs:{name}'" in str(exc)
    else:
        assert name in _calls(tree)


@pytest.mark.parametrize(("name", "expression", "expected"), _samples())
def test_function_twice_in_the_engine_locale(answers, name, expression, expected):
    answer = answers[expression]
    for kind, value in answer["runs"]:
        if isinstance(expected, Raises):
            assert kind == "error" and expected.text in value, value
        else:
            assert (kind, tuple(value)) == ("ok", expected)
    if isinstance(expected, Raises):
        # Constant expressions are evaluated while parsing: check() may report the same error.
        assert answer["check"] is None or expected.text in answer["check"]
    else:
        assert answer["check"] is None


def test_missing_collation_locale_is_reported_by_check():
    error = xpath.check(f"compare('a', 'b', '{UCA}?lang=xx')")
    assert error is not None and "Unsupported collation" in error
    assert xpath.check("compare('a', 'b')") is None


def test_evaluation_after_a_missing_collation_locale_still_compares():
    doc = xpath.XPathDocument(xpath.etree.fromstring("<workflow><a>x</a></workflow>"))
    scope = xpath.Scope()
    with pytest.raises(XPathError, match="Unsupported collation"):
        xpath.evaluate(doc, f"a = 'x' and compare(a, 'b', '{UCA}?lang=xx') = 0",
                       doc.root, scope)
    assert xpath.evaluate(doc, "starts-with(a, 'x') and max((string(a), 'B')) = 'x'",
                          doc.root, scope) == [True]
