"""Conditions, loops and evqWait on jobs, tasks and inputs (semantics.md §1.6).

* ``condition`` is evaluated in the outer context and must give a boolean. False: the node is
  SKIPPED ("Condition evaluates to false"). True: the attribute is removed, so loop clones do
  not inherit it ("Condition evaluates to true"). A false ``evqWait()`` makes the node WAITING
  (only where waiting is allowed: jobs and tasks); any error ABORTs the node.
* ``loop`` is evaluated in the outer context and must select nodes; ``loop`` and
  ``iteration-condition`` are removed; one deep clone per selected node is appended to the
  parent, carrying the iteration-condition as its condition, and the original is removed.
"""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from evqueue.engine.instance_state import InstanceState
from evqueue.engine.statuses import Trigger
from evqueue.model.xpath import (
    ContextItem,
    Scope,
    TextRef,
    WaitRequested,
    XPathError,
    evaluate_boolean,
    evaluate_nodes,
)

__all__ = ["handle_condition", "handle_loop"]


def handle_condition(
    st: InstanceState, node: etree._Element, context: ContextItem, *, can_wait: bool = True
) -> bool:
    """Evaluate *node*'s ``condition``: True to go on, False when SKIPPED or WAITING.

    Raises:
        EvaluationFailed: the condition could not be evaluated (the node is ABORTED).
    """
    expression = node.get("condition")
    if expression is None:
        return True
    scope = Scope.for_node(node, can_wait=can_wait, now=st.now)
    try:
        result = evaluate_boolean(st.tree.xpath, expression, context, scope)
    except WaitRequested:
        st.tree.set_status(node, Trigger.WAIT)
        node.set("details", "Waiting for condition to become true")
        st.waiting_nodes.append(node)
        st.count("waiting", 1, node)
        return False
    except XPathError as exc:
        st.fail(node, "Error evaluating condition", exc, expression)
    if not result:
        st.tree.set_status(node, Trigger.SKIP)
        node.set("details", "Condition evaluates to false")
        return False
    del node.attrib["condition"]  # loop clones must not inherit it
    node.set("details", "Condition evaluates to true")
    return True


def handle_loop(
    st: InstanceState, node: etree._Element, context: ContextItem, *, iteration: bool = True
) -> list[tuple[etree._Element, ContextItem]]:
    """Expand *node*'s ``loop``: one clone per selected node, with that node as context.

    Without a loop the node itself is returned with *context*. Clones get the
    ``iteration-condition`` as their ``condition`` when *iteration* is true.

    Raises:
        EvaluationFailed: the loop could not be evaluated (the node is ABORTED).
    """
    expression = node.get("loop")
    if expression is None:
        return [(node, context)]
    del node.attrib["loop"]
    iteration_condition = node.attrib.pop("iteration-condition", None)
    scope = Scope.for_node(node, now=st.now)
    try:
        items = evaluate_nodes(st.tree.xpath, expression, context, scope)
        if any(isinstance(item, TextRef) for item in items):
            raise XPathError("Loop items must be elements or attributes")
    except XPathError as exc:
        st.fail(node, "Error evaluating loop", exc, expression)
    parent = node.getparent()
    clones: list[tuple[etree._Element, ContextItem]] = []
    for item in items:
        clone = deepcopy(node)
        clone.tail = None
        if iteration and iteration_condition is not None:
            clone.set("condition", iteration_condition)
        parent.append(clone)
        clones.append((clone, item))
    parent.remove(node)
    if clones:
        st.tree.register(clones[0][0])
    st.tree.changed(parent)
    return clones
