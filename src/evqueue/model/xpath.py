"""XPath 2.0 over instance trees, with evQueue's workflow functions.

Expressions are parsed once by elementpath's XPath 2.0 parser (cached by expression string) and
evaluated over the lxml tree of a workflow instance. evQueue's functions are registered on a
private parser class, so they parse anywhere a function may appear, including as a path step:

* ``evqGetWorkflowParameter('p')`` — the string value of parameter *p*
  (``/workflow/parameters/parameter[@name='p']``).
* ``evqGetCurrentJob()`` — the job being run (a loop clone inside a job loop).
* ``evqGetParentJob()``, ``evqGetParentJob(N)``, ``evqGetParentJob('name')`` — the parent job P of
  the current job (``C/../..``), climbed N more levels, or the first of P, P/../.., … named *name*.
* ``evqGetOutput('t')``, ``evqGetInput('t', 'i')``, ``evqGetContext()`` — relative to the
  context item when called as a path step (``evqGetParentJob(1)/evqGetOutput('t')``),
  otherwise relative to P.
* ``evqGetJob('name')`` — ``//subjobs/job[@name='name']``; only where :attr:`Scope.allow_get_job`
  (custom attributes and automatic tags).
* ``evqWait(expr)`` — ``true()`` when *expr* is true; otherwise raises :class:`WaitRequested` where
  :attr:`Scope.can_wait` (job and task conditions) and an error elsewhere.

Rules of this module:

* The lxml tree is the state. :class:`XPathDocument` keeps elementpath's node tree over it
  (:mod:`evqueue.model.xpath_tree`); whoever adds, removes or moves elements, or changes text,
  calls :meth:`XPathDocument.changed` with the element whose content changed. Attribute
  changes need no call.
* Every failure of an expression (syntax, type, division by zero, a failing evq function) is an
  :class:`XPathError` carrying a message; nothing else escapes :func:`evaluate`.
* Strings compare by Unicode code point unless an expression names another collation, whatever
  the process locale is. Parsing and evaluation run under :class:`_CollationGuard`, so a
  collation whose locale is missing is an :class:`XPathError`, never a blocked engine.
* Standard XPath 2.0 semantics apply where evQueue's own dialect differs (1-based ``substring``,
  existential ``!=``, decimal arithmetic, ``|`` precedence, ``concat`` and every other standard
  function exist); the differences are listed in docs/compatibility.md.
"""

from __future__ import annotations

import datetime
import locale
import threading
from collections.abc import Callable, Iterator
from copy import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from elementpath import ElementPathError, XPath2Parser, XPathContext
from elementpath import collations as _collations
from elementpath.collations import UNICODE_CODEPOINT_COLLATION
from elementpath.xpath_nodes import (
    AttributeNode,
    DocumentNode,
    ElementNode,
    XPathNode,
)
from lxml import etree

from evqueue.model.xpath_tree import NodeTree

__all__ = [
    "AttrRef",
    "ContextItem",
    "Item",
    "Scope",
    "TextRef",
    "WaitRequested",
    "XPathDocument",
    "XPathError",
    "check",
    "evaluate",
    "evaluate_boolean",
    "evaluate_first",
    "evaluate_nodes",
    "string_value",
]

#: Workflow functions that take their base from the context item when used as a path step.
STEP_FUNCTIONS = frozenset({"evqGetOutput", "evqGetInput", "evqGetContext"})
_CACHE_SIZE = 4096


class XPathError(Exception):
    """An expression could not be parsed or evaluated; ``str(error)`` is the message."""

    @property
    def message(self) -> str:
        """The error message, as recorded in the instance XML."""
        return str(self)


class WaitRequested(XPathError):
    """``evqWait()`` found its condition false in a condition that may wait."""

    def __init__(self) -> None:
        super().__init__("Waiting for condition to become true")


@dataclass(frozen=True)
class AttrRef:
    """An attribute node of the tree: the owning element and the attribute name."""

    element: etree._Element
    name: str

    @property
    def value(self) -> str:
        """The attribute value ('' when it disappeared)."""
        return self.element.get(self.name, "")


@dataclass(frozen=True)
class TextRef:
    """A text, comment or processing-instruction node, by its string value."""

    text: str


#: What a node-valued result item is converted to.
ContextItem = etree._Element | AttrRef
#: One item of an evaluation result: a node or an atomic value (str, int, Decimal, float, bool…).
Item = Any


@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated, for evQueue's functions.

    Attributes:
        job: the current job C (a ``<job>`` element), or None outside job execution (custom
            attributes, automatic tags): then the parent job P is the ``<workflow>`` root.
        can_wait: ``evqWait`` may suspend (job and task conditions).
        allow_get_job: ``evqGetJob`` is available (custom attributes, automatic tags).
        now: the time ``current-dateTime()`` reports; None reads the clock.
    """

    job: etree._Element | None = None
    can_wait: bool = False
    allow_get_job: bool = False
    now: datetime.datetime | None = None

    @classmethod
    def for_node(cls, node: etree._Element, **kwargs: Any) -> Scope:
        """The scope of a job, task, input, stdin or script element: C is its job."""
        job: etree._Element | None = node
        while job is not None and job.tag != "job":
            job = job.getparent()
        return cls(job=job, **kwargs)


class XPathDocument:
    """An instance tree plus the XPath node tree cached over it.

    Args:
        root: the ``<workflow>`` root element.
        resolve_evqid: maps a ``context-id`` value ("N" or "N/@attr") to its node; the default
            scans the tree.
    """

    __slots__ = ("_nodes", "resolve_evqid", "root")

    def __init__(
        self,
        root: etree._Element,
        resolve_evqid: Callable[[str], ContextItem | None] | None = None,
    ) -> None:
        self.root = root
        self.resolve_evqid = resolve_evqid or self._scan_evqid
        self._nodes: NodeTree | None = None

    def changed(self, element: etree._Element | None = None) -> None:
        """Record that elements or text changed under *element* (None: anywhere)."""
        if self._nodes is None:
            return
        if element is None:
            self._nodes = None
        else:
            self._nodes.invalidate(element)

    def node_tree(self) -> DocumentNode:
        """The node tree, brought up to date."""
        if self._nodes is None:
            self._nodes = NodeTree(self.root)
        return self._nodes.refresh()

    def node_of(self, item: ContextItem) -> XPathNode:
        """The XPath node wrapping an element or attribute of this tree (call
        :meth:`node_tree` first)."""
        assert self._nodes is not None
        try:
            if isinstance(item, AttrRef):
                for attr in self._nodes.node(item.element).attributes:
                    if attr.name == item.name:
                        return attr
                raise XPathError(f"No attribute '{item.name}' on the context node")
            return self._nodes.node(item)
        except KeyError:
            raise XPathError("The context node is not part of the instance") from None

    def _scan_evqid(self, context_id: str) -> ContextItem | None:
        evqid, _, attr = context_id.partition("/@")
        found = self.root.xpath("//*[@evqid=$v]", v=evqid)
        if not found:
            return None
        return AttrRef(found[0], attr) if attr else found[0]


# --------------------------------------------------------------------------------------------
# Parser with evQueue's functions


class _EvqParser(XPath2Parser):
    # Own copy: registering signatures must not touch elementpath's shared parser class.
    function_signatures = XPath2Parser.function_signatures.copy()


_method = _EvqParser.method
_function = _EvqParser.function


@dataclass
class _Evaluation:
    """Per-evaluation state reachable from the elementpath context."""

    doc: XPathDocument
    scope: Scope


def _evaluation(token: Any, context: Any) -> _Evaluation:
    if context is None or not hasattr(context, "evq"):
        raise token.missing_context()
    return context.evq


def _arg_string(token: Any, context: Any, index: int) -> str:
    value = token.get_argument(context, index)
    if value is None:
        return ""
    if isinstance(value, XPathNode):
        return value.string_value
    return token.string_value(value)


def _base_element(token: Any, context: Any, ev: _Evaluation) -> etree._Element | None:
    """Left step's item when called as a step, otherwise the parent job P."""
    if getattr(token, "as_step", False):
        item = context.item
        return item.value if isinstance(item, ElementNode) else None
    return _parent_job(ev)


def _parent_job(ev: _Evaluation) -> etree._Element:
    job = ev.scope.job
    if job is None:
        return ev.doc.root
    parent = _up(job)
    if parent is None:
        raise XPathError("Not enough parents")
    return parent


def _up(element: etree._Element) -> etree._Element | None:
    """``element/../..``, or None at the top."""
    parent = element.getparent()
    return parent.getparent() if parent is not None else None


def _nodes(ev: _Evaluation, elements: Iterator[etree._Element]) -> list[XPathNode]:
    return [ev.doc.node_of(e) for e in elements]


def _tasks(base: etree._Element | None, *names: str) -> Iterator[etree._Element]:
    if base is None:
        return
    for tasks in base.iterchildren("tasks"):
        for task in tasks.iterchildren("task"):
            if any(task.get(attr) in names for attr in ("path", "name")):
                yield task


@_method(_function("evqGetWorkflowParameter", nargs=1))
def evaluate__evq_get_workflow_parameter(self: Any, context: Any = None) -> str:
    ev = _evaluation(self, context)
    name = _arg_string(self, context, 0)
    for params in ev.doc.root.iterchildren("parameters"):
        for param in params.iterchildren("parameter"):
            if param.get("name") == name:
                return "".join(param.itertext())
    return ""


@_method(_function("evqGetCurrentJob", nargs=0))
def evaluate__evq_get_current_job(self: Any, context: Any = None) -> list[XPathNode]:
    ev = _evaluation(self, context)
    if ev.scope.job is None:
        raise XPathError("evqGetCurrentJob() : no current job here")
    return [ev.doc.node_of(ev.scope.job)]


@_method(_function("evqGetParentJob", nargs=(0, 1)))
def evaluate__evq_get_parent_job(self: Any, context: Any = None) -> list[XPathNode]:
    ev = _evaluation(self, context)
    node = _parent_job(ev)
    arg = self.get_argument(context) if len(self) else 0
    if isinstance(arg, XPathNode):
        arg = arg.string_value
    if isinstance(arg, str):
        while node.get("name") != arg:
            up = _up(node)
            if up is None:
                raise XPathError(f"evqGetParentJob() : Could not find job '{arg}' in parents")
            node = up
    else:
        for _ in range(int(arg or 0)):
            up = _up(node)
            if up is None:
                raise XPathError("evqGetParentJob() : Not enough parents")
            node = up
    return [ev.doc.node_of(node)]


@_method(_function("evqGetOutput", nargs=1))
def evaluate__evq_get_output(self: Any, context: Any = None) -> list[XPathNode]:
    ev = _evaluation(self, context)
    base = _base_element(self, context, ev)
    name = _arg_string(self, context, 0)
    outputs = (o for t in _tasks(base, name) for o in t.iterchildren("output"))
    return _nodes(ev, outputs)


@_method(_function("evqGetInput", nargs=2))
def evaluate__evq_get_input(self: Any, context: Any = None) -> list[XPathNode]:
    ev = _evaluation(self, context)
    base = _base_element(self, context, ev)
    task_path, input_name = _arg_string(self, context, 0), _arg_string(self, context, 1)
    tasks = (t for t in _tasks(base, task_path) if t.get("path") == task_path)
    inputs = (i for t in tasks for i in t.iterchildren("input") if i.get("name") == input_name)
    return _nodes(ev, inputs)


@_method(_function("evqGetContext", nargs=0))
def evaluate__evq_get_context(self: Any, context: Any = None) -> list[XPathNode]:
    ev = _evaluation(self, context)
    base = _base_element(self, context, ev)
    context_id = base.get("context-id") if base is not None else None
    target = ev.doc.resolve_evqid(context_id) if context_id else None
    if target is None:
        return []
    return [ev.doc.node_of(target)]


@_method(_function("evqGetJob", nargs=1))
def evaluate__evq_get_job(self: Any, context: Any = None) -> list[XPathNode]:
    ev = _evaluation(self, context)
    if not ev.scope.allow_get_job:
        raise XPathError("evqGetJob() is only available in custom attributes and automatic tags")
    name = _arg_string(self, context, 0)
    jobs = ev.doc.root.xpath("//subjobs/job[@name=$n]", n=name)
    return _nodes(ev, iter(jobs))


@_method(_function("evqWait", nargs=1))
def evaluate__evq_wait(self: Any, context: Any = None) -> bool:
    ev = _evaluation(self, context)
    if self.boolean_value(list(self[0].select(copy(context)))):
        return True
    if ev.scope.can_wait:
        raise WaitRequested()
    raise XPathError("evqWait() : Waiting for condition to become true")


_EvqParser.build()


# --------------------------------------------------------------------------------------------
# Compilation and evaluation


def _mark_steps(token: Any) -> None:
    """Flag evq functions that are the right operand of '/' or '//' (a path step), also
    when filtered by predicates (``A/evqGetOutput('t')[@retval=0]``)."""
    for child in token:
        _mark_steps(child)
    if token.symbol in ("/", "//") and len(token) == 2:
        step = token[1]
        while step.symbol == "[" and len(step):
            step = step[0]
        if step.symbol in STEP_FUNCTIONS:
            step.as_step = True


class _CollationGuard:
    """Parsing or evaluating one expression without leaving elementpath's locale state broken.

    elementpath switches ``LC_COLLATE`` for a locale collation (a ``UCA?lang=…`` URI) under a
    module-level lock that it acquires before the switch and releases only in the collation's
    ``__exit__``. When the locale is missing (and also when restoring the previous one fails:
    Python 3.11 reads ``C.UTF-8`` back as ``en_US.UTF-8``), ``locale.Error`` escapes with the lock
    still held, and the next collation blocks the engine's only thread forever. The guard
    releases that lock and puts ``LC_COLLATE`` back after every parse and evaluation. Releasing
    is sound because every use of elementpath in the process goes through this module and
    :data:`_XPATH_LOCK` keeps those uses one at a time, so a held lock after one of them is
    always a leak, never another collation in progress.
    """

    __slots__ = ("_lc_collate",)

    def __enter__(self) -> None:
        _XPATH_LOCK.acquire()
        self._lc_collate = locale.setlocale(locale.LC_COLLATE)

    def __exit__(self, *exc: object) -> None:
        try:
            lock = _collations._locale_collate_lock
            if lock.locked():
                lock.release()
            if locale.setlocale(locale.LC_COLLATE) != self._lc_collate:
                locale.setlocale(locale.LC_COLLATE, self._lc_collate)
        finally:
            _XPATH_LOCK.release()


#: Held while elementpath parses or evaluates (see :class:`_CollationGuard`).
_XPATH_LOCK = threading.RLock()


def _failure(exc: Exception) -> XPathError:
    """The :class:`XPathError` reporting an exception raised by elementpath."""
    if isinstance(exc, ElementPathError):
        return XPathError(_describe(exc))
    if isinstance(exc, locale.Error):
        return XPathError(f"Unsupported collation: a locale it needs is not installed ({exc})")
    return XPathError(f"{type(exc).__name__}: {exc}")


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(expression: str) -> Any:
    # The parser evaluates constant subexpressions (a collation among them) while parsing.
    try:
        with _CollationGuard():
            token = _EvqParser(default_collation=UNICODE_CODEPOINT_COLLATION).parse(expression)
    except Exception as exc:  # any parser failure is a bad expression
        raise _failure(exc) from None
    _mark_steps(token)
    return token


def _describe(exc: Exception) -> str:
    # elementpath's str() names the token, its position and the XPath error code.
    return str(exc) or type(exc).__name__


def check(expression: str) -> str | None:
    """Check an expression's syntax (``xpath parse`` API, workflow validation).

    Args:
        expression: the XPath expression.

    Returns:
        None when it parses, otherwise the parse error message.
    """
    try:
        _compile(expression)
    except XPathError as exc:
        return exc.message
    return None


def evaluate(
    doc: XPathDocument, expression: str, item: ContextItem, scope: Scope
) -> list[Item]:
    """Evaluate *expression* with *item* as context item.

    Args:
        doc: the instance tree.
        expression: the XPath 2.0 expression.
        item: the context item (an element or attribute of ``doc``).
        scope: what evQueue's functions refer to.

    Returns:
        The result sequence: nodes as lxml elements, :class:`AttrRef` or :class:`TextRef`,
        atomic values as Python values.

    Raises:
        XPathError: the expression is invalid or its evaluation failed
            (:class:`WaitRequested` for a false ``evqWait``).
    """
    token = _compile(expression)
    nodes = doc.node_tree()
    context = XPathContext(nodes, item=doc.node_of(item), current_dt=scope.now)
    context.evq = _Evaluation(doc, scope)
    try:
        with _CollationGuard():
            return [_convert(x) for x in token.select(context) if x is not None]
    except XPathError:
        raise
    except Exception as exc:  # user input must never break the caller: report it instead
        raise _failure(exc) from None


def _convert(item: Any) -> Item:
    if isinstance(item, DocumentNode):
        return item.getroot().value
    if isinstance(item, ElementNode):
        return item.value
    if isinstance(item, AttributeNode):
        return AttrRef(item.parent.value, item.name)
    if isinstance(item, XPathNode):
        return TextRef(item.string_value)
    return item


def evaluate_boolean(
    doc: XPathDocument, expression: str, item: ContextItem, scope: Scope
) -> bool:
    """Evaluate a condition: the result must be exactly one boolean.

    Raises:
        XPathError: "Expected boolean result", or any evaluation error.
    """
    result = evaluate(doc, expression, item, scope)
    if len(result) != 1 or not isinstance(result[0], bool):
        raise XPathError("Expected boolean result")
    return result[0]


def evaluate_nodes(
    doc: XPathDocument, expression: str, item: ContextItem, scope: Scope
) -> list[etree._Element | AttrRef | TextRef]:
    """Evaluate an expression that must select nodes (loops, copies, custom attributes).

    Raises:
        XPathError: "Evaluation result is not a node", or any evaluation error.
    """
    result = evaluate(doc, expression, item, scope)
    for value in result:
        if not isinstance(value, etree._Element | AttrRef | TextRef):
            raise XPathError("Evaluation result is not a node")
    return result


def evaluate_first(
    doc: XPathDocument, expression: str, item: ContextItem, scope: Scope
) -> Item | None:
    """The first item of the result, or None for an empty sequence."""
    result = evaluate(doc, expression, item, scope)
    return result[0] if result else None


def string_value(item: Item) -> str:
    """The XPath string value of a result item (text content for elements).

    Atomic values follow XPath's ``string()``: ``true``/``false``, ``3.5``, ``1.0E20``.
    """
    if isinstance(item, etree._Element):
        return "".join(item.itertext())
    if isinstance(item, AttrRef):
        return item.value
    if isinstance(item, TextRef):
        return item.text
    if isinstance(item, str):
        return item
    return _STRING_TOKEN.string_value(item)


_STRING_TOKEN = _compile("string(.)")
