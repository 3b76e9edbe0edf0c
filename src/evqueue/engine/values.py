"""Task values: dynamic attributes, inputs, stdin, script, and the command built from them.

``replace_values(task, ctx)`` runs just before a task is queued and rewrites the task in place,
so the instance XML shows the computed values (semantics.md §1.7):

* ``host``, ``queue_host``, ``user``: each ``{expr}`` is evaluated in the context; a node gives
  its text, an empty result leaves ``{expr}`` as it is, an atomic value is an error.
* each ``<input>``, then ``<stdin>`` and ``<script>``: condition (false: SKIPPED), loop, then
  ``mode="text"``; every ``<value select>`` with a non-empty result becomes the text of its first
  item, written as evQueue writes it (:func:`value_text`: ``1 = 1`` gives ``1``, ``7 div 2``
  gives ``3.500000``); every ``<copy select>`` is replaced by copies of the selected nodes and
  turns the input to ``mode="xml"``.

``build_command`` turns the computed task into a :class:`~evqueue.engine.actions.TaskCommand`.
A BINARY task's ``path`` is split as evQueue splits it, by glibc's ``wordexp``
(:func:`split_path`), but without command substitution: the engine never waits on a process.
A line that needs it, or that holds a form glibc may crash on, is left whole to the task's
monitor (``TaskCommand.command_line``), which expands it in a process of its own. The first word
is passed as it is: the process layer prefixes a relative one with
``processmanager.tasks.directory`` (:func:`evqueue.process.spec.resolve_task_path`), for both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from copy import deepcopy
from decimal import Decimal

from lxml import etree

from evqueue.attributes import parse_cxx_bool
from evqueue.engine.actions import TaskCommand
from evqueue.engine.conditions import handle_condition, handle_loop
from evqueue.engine.instance_state import InstanceState
from evqueue.engine.statuses import Status
from evqueue.model.workflow import DYNAMIC_ATTRIBUTES, DYNAMIC_PART
from evqueue.model.xpath import (
    AttrRef,
    ContextItem,
    Item,
    Scope,
    TextRef,
    XPathError,
    evaluate_first,
    evaluate_nodes,
    string_value,
)
from evqueue.process.wordexp import (
    EXPANSION_ERROR,
    WordExpCode,
    WordExpError,
    needs_isolation,
    wordexp,
)

__all__ = [
    "TaskSetupError",
    "build_command",
    "expand_braces",
    "replace_values",
    "split_path",
    "value_text",
]

#: What a failed dynamic attribute says, by attribute (every one of DYNAMIC_ATTRIBUTES).
_DYNAMIC_ERRORS = {
    "host": "Error computing dynamic host",
    "queue_host": "Error computing dynamic queue host",
    "user": "Error computing dynamic user",
}


class TaskSetupError(Exception):
    """A task's attributes do not describe a runnable command."""


def replace_values(st: InstanceState, task: etree._Element, context: ContextItem) -> None:
    """Compute a task's dynamic attributes, inputs, stdin and script in place.

    Raises:
        EvaluationFailed: an expression failed (recorded on the task or the input).
    """
    scope = Scope.for_node(task, now=st.now)
    for attribute in DYNAMIC_ATTRIBUTES:
        value = task.get(attribute)
        if value is None:
            continue
        try:
            task.set(attribute, expand_braces(st, value, context, scope))
        except XPathError as exc:
            st.fail(task, _DYNAMIC_ERRORS[attribute], exc)
    for element in list(task.iterchildren("input", "stdin", "script")):
        _replace_value(st, element, context, scope)


def expand_braces(st: InstanceState, value: str, context: ContextItem, scope: Scope) -> str:
    """Replace each ``{expr}`` of an attribute value by the text of the node it selects.

    Raises:
        XPathError: an expression failed or gave an atomic value.
    """

    def substitute(match: re.Match[str]) -> str:
        expression = match.group(1)
        try:
            first = evaluate_first(st.tree.xpath, expression, context, scope)
        except XPathError as exc:
            raise XPathError(
                f"XPath expression error in '{expression}'. XPath returned error : {exc}"
            ) from None
        if first is None:
            return match.group(0)
        if not isinstance(first, etree._Element | AttrRef | TextRef):
            raise XPathError("Evaluation result is not a node")
        return string_value(first)

    return DYNAMIC_PART.sub(substitute, value)


def _replace_value(
    st: InstanceState, element: etree._Element, context: ContextItem, scope: Scope
) -> None:
    if not handle_condition(st, element, context, can_wait=False):
        return
    for clone, item in handle_loop(st, element, context, iteration=False):
        clone.set("mode", "text")
        for value in list(clone.iter("value")):
            _replace_select(st, clone, value, item, scope)
        for copy in list(clone.iter("copy")):
            clone.set("mode", "xml")
            _replace_copy(st, clone, copy, item, scope)
        st.tree.changed(clone)


def _replace_select(
    st: InstanceState,
    owner: etree._Element,
    value: etree._Element,
    context: ContextItem,
    scope: Scope,
) -> None:
    expression = value.get("select", "")
    try:
        first = evaluate_first(st.tree.xpath, expression, context, scope)
    except XPathError as exc:
        st.fail(owner, "Error computing input value", exc, expression)
    if first is not None:
        _replace_with_text(value, value_text(first))


def value_text(item: Item) -> str:
    """The text evQueue writes for the first item of a ``<value select>`` result.

    evQueue converts its XPath values with C++ ``to_string``, so scripts written for it test
    these texts: a boolean is ``1`` or ``0``, an integer (``1 + 2``, ``count(…)``) its decimal
    digits, and any other number (``7 div 2``, ``0.1 + 0.2``, ``1e20``) a double printed with
    ``%f`` (``3.500000``, ``0.300000``, ``100000000000000000000.000000``). The value itself
    follows XPath 2.0 (``1.5 + 1.5`` is ``3.000000``, where evQueue truncates to ``2``). Nodes,
    strings and other atomic values (dates, durations) give their XPath string value.
    """
    if isinstance(item, bool):
        return "1" if item else "0"
    if isinstance(item, int):
        return str(int(item))
    if isinstance(item, float | Decimal):
        return f"{float(item):f}"
    return string_value(item)


def _replace_copy(
    st: InstanceState,
    owner: etree._Element,
    copy: etree._Element,
    context: ContextItem,
    scope: Scope,
) -> None:
    expression = copy.get("select", "")
    try:
        nodes = evaluate_nodes(st.tree.xpath, expression, context, scope)
    except XPathError as exc:
        st.fail(owner, "Error computing input values from copy node", exc, expression)
    for node in nodes:
        if isinstance(node, etree._Element):
            duplicate = deepcopy(node)
            duplicate.tail = None
            copy.addprevious(duplicate)
        else:  # attributes and text nodes are copied as text
            _insert_text_before(copy, string_value(node))
    _replace_with_text(copy, "")


def _replace_with_text(element: etree._Element, text: str) -> None:
    """Replace *element* by *text*, keeping the text around it."""
    _insert_text_before(element, text + (element.tail or ""))
    element.getparent().remove(element)


def _insert_text_before(element: etree._Element, text: str) -> None:
    if not text:
        return
    previous = element.getprevious()
    if previous is not None:
        previous.tail = (previous.tail or "") + text
    else:
        parent = element.getparent()
        parent.text = (parent.text or "") + text


# -- command ----------------------------------------------------------------------------------


def build_command(st: InstanceState, task: etree._Element) -> TaskCommand:
    """The command that runs *task*, from its computed attributes and inputs.

    Raises:
        TaskSetupError: unknown type, parameters mode or output method; a ``use-agent`` or
            ``merge-stderr`` that is not evQueue's boolean (``yes``, ``no``, an integer); a
            remote SCRIPT task without agent; an empty or unparsable path.
    """
    task_type = task.get("type", "BINARY")
    if task_type not in ("BINARY", "SCRIPT"):
        raise TaskSetupError(f"Unknown type {task_type}")
    mode = task.get("parameters-mode", "CMDLINE")
    if mode not in ("CMDLINE", "ENV"):
        raise TaskSetupError(f"Unknown parameters mode {mode}")
    method = task.get("output-method", "TEXT")
    if method not in ("TEXT", "XML"):
        raise TaskSetupError(f"Unknown output method {method}")
    use_agent = _flag(task, "use-agent")
    host, user = _remote(st.root, task)
    if task_type == "SCRIPT" and host and not use_agent:
        raise TaskSetupError("Script tasks cannot be remote without using evQueue agent")

    path, args, command_line = "", [], ""
    script = None
    if task_type == "BINARY":
        words = split_path(task.get("path", ""), st.settings.environ)
        if words is None:
            command_line = task.get("path", "")
        else:
            path, args = words[0], words[1:]
    else:
        script_node = task.find("script")
        script = "".join(script_node.itertext()) if script_node is not None else ""

    inputs = [i for i in task.iterchildren("input") if i.get("status") != Status.SKIPPED]
    env: dict[str, str] = {}
    if mode == "CMDLINE":
        args.extend("".join(i.itertext()) for i in inputs)
    else:
        for i in inputs:
            env[i.get("name", "")] = "".join(i.itertext())

    return TaskCommand(
        instance_id=st.instance_id,
        evqid=task.get("evqid", ""),
        name=task.get("name", ""),
        type=task_type,
        path=path,
        args=tuple(args),
        env=env,
        command_line=command_line,
        stdin=_stdin(task),
        script=script,
        wd=task.get("wd", ""),
        host=host,
        user=user,
        use_agent=use_agent,
        merge_stderr=_flag(task, "merge-stderr"),
    )


def split_path(path: str, environ: Mapping[str, str]) -> list[str] | None:
    """Split a BINARY task's ``path`` into words with glibc's ``wordexp``, as evQueue does.

    Quotes, ``$VAR`` (from ``environ``), ``~`` and globs (from the working directory) are
    expanded here; command substitution, arithmetic and parameter operators are left to the
    task's monitor.

    Args:
        path: the task's ``path`` attribute.
        environ: the variables ``$VAR`` reads (the engine's environment).

    Returns:
        The words, or None when the line is for the task's monitor to expand: it has command
        substitution, or a form glibc may crash on (see :mod:`evqueue.process.wordexp`).

    Raises:
        TaskSetupError: ``wordexp`` refused the line (an unquoted ``|&;<>(){}`` or newline,
            unbalanced quotes…) or it gives no word.
    """
    if needs_isolation(path):
        return None
    try:
        words = wordexp(path, environ=environ)
    except WordExpError as exc:
        if exc.code is WordExpCode.CMDSUB:
            return None
        raise TaskSetupError(EXPANSION_ERROR) from None
    if not words:
        raise TaskSetupError(EXPANSION_ERROR)
    return words


def _flag(task: etree._Element, name: str) -> bool:
    """A boolean task attribute read as evQueue reads it (:mod:`evqueue.attributes`); false
    when absent."""
    value = task.get(name)
    if value is None:
        return False
    flag = parse_cxx_bool(value)
    if flag is None:
        raise TaskSetupError(f"Attribute '{name}' has invalid boolean value")
    return flag


def _remote(root: etree._Element, task: etree._Element) -> tuple[str, str]:
    """(host, user): the task's own host and user, else the instance's."""
    if "host" in task.attrib:
        return task.get("host", ""), task.get("user", "")
    if "host" in root.attrib:
        return root.get("host", ""), root.get("user", "")
    return "", ""


def _stdin(task: etree._Element) -> bytes:
    stdin = task.find("stdin")
    if stdin is None or stdin.get("status") == Status.SKIPPED:
        return b""
    if stdin.get("mode") == "text":
        return "".join(stdin.itertext()).encode()
    return etree.tostring(stdin, with_tail=False)
