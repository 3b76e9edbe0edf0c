"""Recording a task's end in the instance tree (semantics.md §1.8, ``TaskStop``).

On every exit the task becomes TERMINATED with its ``retval``; ``tid``, ``pid`` and ``retry_at``
go, ``progression`` becomes 100, and these are appended to the task, in this order::

    <output retval= execution_time= exit_time= method="text|xml">…</output>
    <stderr>…</stderr>   (when stderr could be read)
    <log>…</log>         (when present)

* retval 0 and ``output-method="XML"``: stdout must be one well-formed document without an
  entity (:func:`evqueue.model.document.parse_xml`: an entity could neither be expanded nor be
  kept in the instance; a DOCTYPE that declares none is ignored), whose root becomes the
  output's child (``method="xml"``); otherwise
  the task is ABORTED "Invalid XML returned", the output is kept as text and one error is
  counted.
* retval ≠ 0: the output is text; a cancelling instance records "Won't retry because workflow is
  cancelling" and counts an error, otherwise the retry algorithm runs.
* Texts spilled to the datastore (:class:`~evqueue.engine.actions.Spilled`) are referenced by
  ``datastore-id`` (or ``datastore-error``) instead of being stored in the tree.
* Outputs accumulate across retries.
"""

from __future__ import annotations

import re

from lxml import etree

from evqueue.engine.actions import Spilled, TaskResult
from evqueue.engine.instance_state import InstanceState
from evqueue.engine.statuses import Trigger
from evqueue.engine.task_retry import retry_task
from evqueue.errors import InvalidXml
from evqueue.model.document import parse_xml
from evqueue.times import format_time

__all__ = ["record_stop", "xml_safe"]

# Characters XML 1.0 cannot hold (controls other than \t \n \r, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """*text* with the characters XML cannot hold replaced by '?'."""
    return _NOT_XML.sub("?", text)


def record_stop(st: InstanceState, task: etree._Element, result: TaskResult) -> None:
    """Mark *task* TERMINATED and append its output, stderr and log (then retry if needed)."""
    st.tree.set_status(task, Trigger.STOP)
    task.set("retval", str(result.retcode))
    for attribute in ("tid", "pid", "retry_at"):
        task.attrib.pop(attribute, None)
    task.set("progression", "100")

    output = etree.SubElement(task, "output")
    output.set("retval", str(result.retcode))
    output.set("execution_time", task.get("execution_time", ""))
    output.set("exit_time", format_time(st.now))

    if result.retcode == 0 and task.get("output-method") == "XML":
        document = _parse_output(result.stdout)
        if document is not None:
            output.set("method", "xml")
            output.append(document)
        else:
            st.abort(task, "Invalid XML returned")
            output.set("method", "text")
            _record_text(output, result.stdout)
            st.error(task)
    else:
        output.set("method", "text")
        _record_text(output, result.stdout)
        if result.retcode != 0:
            if st.cancelling:
                task.set("error", "Won't retry because workflow is cancelling")
                st.error(task)
            else:
                retry_task(st, task)

    for tag, text in (("stderr", result.stderr), ("log", result.log)):
        if text is not None:
            _record_text(etree.SubElement(task, tag), text)
    st.tree.changed(task)
    st.event("TASK_TERMINATE")


def _parse_output(stdout: str | Spilled) -> etree._Element | None:
    if isinstance(stdout, Spilled) or not stdout.strip():
        return None
    try:
        return parse_xml(stdout, allow_doctype=True)
    except (InvalidXml, ValueError):
        return None


def _record_text(element: etree._Element, value: str | Spilled) -> None:
    if isinstance(value, Spilled):
        if value.datastore_id is not None:
            element.set("datastore-id", str(value.datastore_id))
        else:
            element.set("datastore-error", value.error or "")
    elif value:
        element.text = xml_safe(value)
