"""Workflow definitions: parse, check, walk (semantics.md §1.1–§1.3, §1.6–§1.10).

A definition is the document stored in ``t_workflow.workflow_xml``: a ``<workflow>`` root without
a name. :meth:`WorkflowDefinition.parse` runs the checks of a ``workflow create|edit`` request in
this order, raising the first failure:

1. **Well-formed XML** (str or bytes). No DOCTYPE at all, no entity expansion, no network access
   → INVALID_XML ``Invalid XML document : …``.
2. **evQueue's readable checks**, with its messages (``Workflow::ValidateXML``): every ``task``
   has type ``BINARY`` (the default) or ``SCRIPT``; a BINARY task has a non-empty ``path``; a
   SCRIPT task has a non-empty ``name`` and a ``<script>`` with text or a ``<value>``; no job is
   empty. evQueue sends these without an error code; we send INVALID_XML.
3. **The grammar**, ``workflow.xsd`` (equivalent to evQueue's) → INVALID_XML, one
   ``<message> on line <n>`` per problem, joined by newlines (evQueue's layout).
4. **Our checks**, the second optional:
   - a parameter is declared at most once (a duplicate could never be satisfied at launch,
     since evQueue drops repeated launch parameters) → INVALID_XML;
   - every XPath expression parses, when ``check_xpath`` is given → INVALID_XML. Expressions are
     ``select`` (custom attributes, ``value``, ``copy``), ``condition`` (automatic tags, jobs,
     tasks, inputs), ``loop`` and ``iteration-condition``, and each ``{…}`` in a task's
     ``host``, ``queue_host`` and ``user``.

The queues and retry schedules a definition names need not exist yet, as in evQueue: definitions
exported from a node (or loaded from git) before their queues must load. They are looked up
when they are used: an unknown retry schedule fails the launch (``Unknown RetrySchedule name :
X``), a task naming an unknown queue is ABORTED with ``Unknown queue name``.

Names of jobs and tasks need not be unique: evQueue does not require it, and its lookups
(``evqGetOutput``, ``evqGetJob``) simply take every or the first match.

The parsed tree is the definition itself; whoever instantiates it deep-copies the root first.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from lxml import etree

from evqueue.errors import InvalidWorkflowParameters, InvalidXml
from evqueue.model.content import decode_content, validate_name
from evqueue.model.document import parse_xml, validate_against

__all__ = [
    "DYNAMIC_ATTRIBUTES",
    "DYNAMIC_PART",
    "WorkflowDefinition",
    "XPATH_ATTRIBUTES",
    "XPathCheck",
    "decode_content",
    "iter_expressions",
    "validate_name",
]

#: Returns an error message for an expression that does not parse, else None.
XPathCheck = Callable[[str], str | None]

#: Attributes holding one XPath expression, by element name.
XPATH_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "custom-attribute": ("select",),
    "automatic-tag": ("condition",),
    "job": ("condition", "loop", "iteration-condition"),
    "task": ("condition", "loop", "iteration-condition"),
    "input": ("condition", "loop"),
    "value": ("select",),
    "copy": ("select",),
}

#: Task attributes whose ``{…}`` parts are XPath expressions evaluated before queueing (§1.7).
DYNAMIC_ATTRIBUTES: tuple[str, ...] = ("host", "queue_host", "user")

#: evQueue's pattern for the dynamic parts of an attribute (``DOMDocument::ExpandXPathAttribute``):
#: group 1 is the expression; checked here, evaluated by the engine.
DYNAMIC_PART = re.compile(r"\{([^}]+)\}")


class WorkflowDefinition:
    """A checked workflow definition.

    Build it with :meth:`parse` or :meth:`from_base64`; the constructor trusts its argument.
    """

    __slots__ = ("_root", "_parameters")

    def __init__(self, root: etree._Element) -> None:
        self._root = root
        self._parameters = tuple(
            p.get("name", "") for p in root.iterfind("parameters/parameter")
        )

    @classmethod
    def parse(
        cls, xml: str | bytes, *, check_xpath: XPathCheck | None = None
    ) -> WorkflowDefinition:
        """Parse and check a definition (module docstring, steps 1–4).

        Args:
            xml: the definition document.
            check_xpath: returns an error message for an expression that does not parse;
                None skips the check.

        Returns:
            The definition.

        Raises:
            InvalidXml: steps 1–3, a duplicate parameter, or an XPath expression that does not
                parse.
        """
        root = parse_xml(xml)
        _check_readable(root)
        validate_against("workflow.xsd", root)
        definition = cls(root)
        definition._check_parameters_unique()
        if check_xpath is not None:
            definition._check_expressions(check_xpath)
        return definition

    @classmethod
    def from_base64(
        cls, content: str, *, check_xpath: XPathCheck | None = None
    ) -> WorkflowDefinition:
        """Decode the ``content`` attribute of a create/edit request, then :meth:`parse` it.

        Raises:
            InvalidParameter: bad base64 or bad UTF-8.
            ApiError: whatever :meth:`parse` raises.
        """
        return cls.parse(decode_content(content), check_xpath=check_xpath)

    @property
    def root(self) -> etree._Element:
        """The ``<workflow>`` element. Deep-copy it before changing it."""
        return self._root

    @property
    def parameters(self) -> tuple[str, ...]:
        """The declared parameter names, in document order."""
        return self._parameters

    def jobs(self) -> Iterator[etree._Element]:
        """Every ``<job>``, at any depth, in document order."""
        return self._root.iter("job")

    def tasks(self) -> Iterator[etree._Element]:
        """Every ``<task>``, at any depth, in document order."""
        return self._root.iter("task")

    @property
    def queue_names(self) -> frozenset[str]:
        """The queues the tasks name."""
        return frozenset(task.get("queue", "") for task in self.tasks())

    @property
    def retry_schedule_names(self) -> tuple[str, ...]:
        """The retry schedules the tasks name, once each, in document order: what an instance
        imports, in that order (§1.4). An empty ``retry_schedule`` names one too, which never
        exists, as in evQueue."""
        names = (name for task in self.tasks() if (name := task.get("retry_schedule")) is not None)
        return tuple(dict.fromkeys(names))

    def to_xml(self) -> str:
        """Serialize the definition (no XML declaration)."""
        return etree.tostring(self._root, encoding="unicode")

    def check_launch_parameters(self, names: Iterable[str]) -> None:
        """Check the parameter names given to ``instance launch`` (§1.2).

        Repeated names count once, as in evQueue (the first value is kept by the caller).

        Raises:
            InvalidWorkflowParameters: ``Unknown parameter : X`` or ``Invalid number of
                parameters passed to workflow (passed N, expected M)``.
        """
        passed = self._known_parameters(names)
        expected = len(self._parameters)
        if passed != expected:
            raise InvalidWorkflowParameters(
                "Invalid number of parameters passed to workflow "
                f"(passed {passed}, expected {expected})"
            )

    def check_schedule_parameters(self, names: Iterable[str]) -> None:
        """Check the parameter names of a ``workflow_schedule create|edit`` request.

        Raises:
            InvalidWorkflowParameters: ``Unknown parameter : X`` or ``Invalid number of
                parameters. Workflow expects M, but N are given.``
        """
        passed = self._known_parameters(names)
        expected = len(self._parameters)
        if passed != expected:
            raise InvalidWorkflowParameters(
                f"Invalid number of parameters. Workflow expects {expected}, "
                f"but {passed} are given."
            )

    def _known_parameters(self, names: Iterable[str]) -> int:
        declared = set(self._parameters)
        seen: set[str] = set()
        for name in names:
            if name in seen:
                continue
            if name not in declared:
                raise InvalidWorkflowParameters(f"Unknown parameter : {name}")
            seen.add(name)
        return len(seen)

    def _check_parameters_unique(self) -> None:
        seen: set[str] = set()
        for name in self._parameters:
            if name in seen:
                raise InvalidXml(f"Parameter '{name}' is declared more than once")
            seen.add(name)

    def _check_expressions(self, check_xpath: XPathCheck) -> None:
        for element, attribute, expression in iter_expressions(self._root):
            error = check_xpath(expression)
            if error is not None:
                raise InvalidXml(
                    f"XPath expression error in '{expression}' (attribute '{attribute}' of "
                    f"<{element.tag}> on line {element.sourceline}) : {error}"
                )


def iter_expressions(root: etree._Element) -> Iterator[tuple[etree._Element, str, str]]:
    """Yield ``(element, attribute, expression)`` for every XPath expression, in document order.

    A dynamic attribute yields one expression per ``{…}`` part, without the braces.
    """
    for element in root.iter(tuple(XPATH_ATTRIBUTES)):
        for attribute in XPATH_ATTRIBUTES[element.tag]:
            value = element.get(attribute)
            if value is not None:
                yield element, attribute, value
        if element.tag == "task":
            for attribute in DYNAMIC_ATTRIBUTES:
                for match in DYNAMIC_PART.finditer(element.get(attribute, "")):
                    yield element, attribute, match.group(1)


def _check_readable(root: etree._Element) -> None:
    """evQueue's own checks, run before the grammar for their readable messages."""
    for task in root.iter("task"):
        _check_task_type(task)
    for job in root.iter("job"):
        if not job.findall("tasks/task"):
            raise InvalidXml("A job cannot be empty")


def _check_task_type(task: etree._Element) -> None:
    kind = task.get("type", "BINARY")
    if kind not in ("BINARY", "SCRIPT"):
        # evQueue's message, typo included, so clients matching it keep working.
        raise InvalidXml(f"Invalid type attribute value '{kind}'. Muse be 'BINARY' or 'SCRIPT'.")
    if kind == "BINARY":
        if not task.get("path"):
            raise InvalidXml("Binary task must have a (non empty) 'path' attribute")
        return
    if not task.get("name"):
        raise InvalidXml("Script task must have a (non empty) 'name' attribute")
    script = task.find("script")
    if script is None:
        raise InvalidXml("Script tasks must have a script node")
    if "".join(script.itertext()) == "" and script.find("value") is None:
        raise InvalidXml("Script cannot be empty")
