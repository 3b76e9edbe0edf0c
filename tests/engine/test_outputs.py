"""Recording task ends: outputs, stderr, log, datastore references (semantics.md §1.8)."""

from __future__ import annotations

import pytest
from lxml import etree

from evqueue.engine import Spilled, TaskResult
from evqueue.engine.outputs import xml_safe
from tests.engine.drive import HOLD, Driver, make_instance
from tests.engine.workflows import simple


def held(task: str = '<task name="t" path="x" queue="default"/>') -> Driver:
    return Driver(make_instance(simple(task)), lambda c: HOLD).start().run()


def end(d: Driver, result: TaskResult) -> None:
    d.handle(d.instance.task_ended(d.task("t").get("evqid"), result, d.now))


def test_output_stderr_log_in_order():
    d = held()
    d.advance(3)
    end(d, TaskResult(0, "out", "err", "log line"))
    task = d.task("t")
    assert [c.tag for c in task][-3:] == ["output", "stderr", "log"]
    output = task.find("output")
    assert dict(output.attrib) == {"retval": "0", "execution_time": "2024-01-10 10:00:00",
                                   "exit_time": "2024-01-10 10:00:03", "method": "text"}
    assert (output.text, task.findtext("stderr"), task.findtext("log")) == (
        "out", "err", "log line")


def test_missing_stderr_and_log():
    d = held()
    end(d, TaskResult(0, "out", None, None))
    assert d.task("t").find("stderr") is None and d.task("t").find("log") is None


def test_spilled_texts():
    d = held()
    end(d, TaskResult(0, Spilled(datastore_id=7), Spilled(error="db down"), "small"))
    task = d.task("t")
    assert task.find("output").get("datastore-id") == "7" and task.find("output").text is None
    assert task.find("stderr").get("datastore-error") == "db down"


def test_xml_output_is_parsed():
    d = held('<task name="t" path="x" queue="default" output-method="XML"/>')
    end(d, TaskResult(0, "<?xml version='1.0'?>\n<r><i>1</i></r>\n"))
    output = d.task("t").find("output")
    assert output.get("method") == "xml" and output.find("r/i").text == "1"


def test_failed_xml_task_output_is_text():
    d = held('<task name="t" path="x" queue="default" output-method="XML"/>')
    end(d, TaskResult(4, "<r>partial"))
    output = d.task("t").find("output")
    assert output.get("method") == "text" and output.text == "<r>partial"
    assert d.task("t").get("status") == "TERMINATED"


@pytest.mark.parametrize("stdout", [
    '<!DOCTYPE r [<!ENTITY e "boom">]><r>&e;</r>',
    '<!DOCTYPE r [<!ENTITY e "boom">]><r/>',
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "svg11.dtd"><svg>&nbsp;</svg>',
])
def test_an_xml_output_with_an_entity_is_invalid(stdout):
    # an entity could neither be expanded (no DTD is read) nor kept: the savepoint would not
    # parse again
    d = held('<task name="t" path="x" queue="default" output-method="XML"/>')
    end(d, TaskResult(0, stdout, "", None))
    task = d.task("t")
    assert (task.get("status"), task.get("error")) == ("ABORTED", "Invalid XML returned")
    assert task.find("output").text == stdout


@pytest.mark.parametrize("stdout", [
    '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"><svg><g>x</g></svg>',
    '<!DOCTYPE svg SYSTEM "file:///etc/hostname"><svg><g>x</g></svg>',
])
def test_an_xml_output_naming_a_dtd_is_read_without_it(stdout):
    # Graphviz SVG, plists: the DTD is named, never read; the output is kept without it
    d = held('<task name="t" path="x" queue="default" output-method="XML"/>')
    end(d, TaskResult(0, stdout, "", None))
    task = d.task("t")
    assert task.get("status") == "TERMINATED" and task.get("error") is None
    assert task.findtext("output/svg/g") == "x"
    assert "DOCTYPE" not in etree.tostring(d.instance.root).decode()


def test_an_xml_output_is_read_as_text_whatever_encoding_it_declares():
    d = held('<task name="t" path="x" queue="default" output-method="XML"/>')
    end(d, TaskResult(0, '<?xml version="1.0" encoding="ISO-8859-1"?><r>été</r>', "", None))
    assert d.task("t").findtext("output/r") == "été"


def test_control_characters_are_replaced():
    d = held()
    end(d, TaskResult(0, "a\x00b\x1bc\td"))
    assert d.task("t").findtext("output") == "a?b?c\td"
    assert xml_safe("ok\n\r\t\ufffe") == "ok\n\r\t?"
