"""Workflows and clients written for evQueue 3.3 on a real node: the texts tasks receive, the
error codes of integer attributes, and definitions naming queues or retry schedules that do not
exist yet.
"""

from __future__ import annotations

import base64

import pytest

from evqueue.protocol import ApiError
from tests.e2e.enginekit import EngineNode, client, one_job, read_lines, started, wait_until

#: What evQueue writes into an input for each expression (C++ ``to_string`` of its values).
VALUES = [
    ("1 = 1", "1"),
    ("1 = 2", "0"),
    ("7 div 2", "3.500000"),
    ("1 + 2", "3"),
    ("count(/workflow/parameters/parameter)", "2"),
]

#: Every integer attribute of ``instances list``.
LIST_INTEGERS = ("limit", "offset", "filter_id", "filter_tag_id", "filter_schedule_id")
#: Integers a C++ ``int`` cannot hold, the first two not even a 64-bit integer.
OUT_OF_RANGE = ("9223372036854775808", "-9223372036854775809", "2147483648")

SHORT = '<schedule><level retry_delay="1" retry_times="1"/></schedule>'


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    # LOG_INFO: every new API connection writes a line, which tells when t_log caught up.
    node = started(EngineNode(tmp_path_factory.mktemp("compat"),
                              settings={"logger.db.filter": "LOG_INFO"}))
    try:
        yield node
    finally:
        node.close()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def error_of(node: EngineNode, request: str) -> ApiError:
    with pytest.raises(ApiError) as error:
        node.exec(request)
    return error.value


def logged_lines(node: EngineNode) -> list[str]:
    """Every ``t_log`` line, once the lines logged before this call are stored."""
    def connections() -> int:
        lines = [log.get("message") for log in node.exec("<logs action='list' limit='10000'/>")]
        return sum(line == "accepted API connection from the unix socket" for line in lines)

    before = connections()
    client(node).close()  # logs one more connection, after every line logged so far
    wait_until(lambda: connections() > before, message="t_log did not catch up")
    return [log.get("message") for log in node.exec("<logs action='list' limit='10000'/>")]


# --- values written into task inputs ----------------------------------------------------------


def test_tasks_receive_values_as_evqueue_writes_them(node):
    node.task("values.sh", f"""
printf '%s\\n' "$@" > {node.shared}/values_args
cat > {node.shared}/values_stdin
if [ "$1" = 1 ] && [ "$2" = 0 ]; then echo "booleans as evQueue"; fi
""")
    inputs = "".join(f'<input><value select="{select}"/></input>' for select, _ in VALUES)
    node.workflow("values", one_job(
        f"<task name='t' path='values.sh' queue='default'>{inputs}"
        "<stdin><value select='1 div 3'/>,<value select='true()'/></stdin></task>",
        parameters=["a", "b"]))

    final = node.run_workflow("values", {"a": "x", "b": "y"})

    assert (final.get("status"), final.get("errors")) == ("TERMINATED", "0")
    assert read_lines(node.shared / "values_args") == [text for _, text in VALUES]
    assert read_lines(node.shared / "values_stdin") == ["0.333333,1"]
    assert final.find(".//output").text == "booleans as evQueue\n"
    assert [i.text for i in final.iterfind(".//task/input")] == [text for _, text in VALUES]


# --- error codes of integer attributes --------------------------------------------------------


def test_a_non_integer_list_attribute_is_invalid_integer(node):
    for name in LIST_INTEGERS:
        error = error_of(node, f"<instances action='list' {name}='x'/>")
        assert (error.code, error.message) == (
            "INVALID_INTEGER", f"Attribute '{name}' has invalid integer value")
    error = error_of(node, "<instances action='list' filter_error='maybe'/>")
    assert (error.code, error.message) == (
        "INVALID_BOOLEAN", "Attribute 'filter_error' has invalid boolean value")


def test_integers_out_of_range_never_reach_the_store(node):
    check_out_of_range_list_attributes(node)


@pytest.mark.backends
def test_integers_out_of_range_never_reach_any_store(tmp_path, db_url):
    node = started(EngineNode(tmp_path / "node", db_url=db_url,
                              settings={"logger.db.filter": "LOG_INFO"}))
    try:
        node.workflow("one", one_job("<task path='/bin/true' queue='default'/>"))
        node.run_workflow("one")
        check_out_of_range_list_attributes(node)
        # evQueue reads limit and offset as unsigned: -1 is "no limit", not a store error
        (listed,) = node.exec("<instances action='list' limit='-1' filter_error='0'/>")
        assert listed.get("name") == "one"
        assert len(node.exec("<instances action='list' offset='-1'/>")) == 0
        assert len(node.exec("<instances action='list' filter_id='-1'/>")) == 0
    finally:
        node.close()


def check_out_of_range_list_attributes(node: EngineNode) -> None:
    for name in LIST_INTEGERS:
        for value in OUT_OF_RANGE:
            error = error_of(node, f"<instances action='list' {name}='{value}'/>")
            assert (error.code, error.message) == (
                "INVALID_INTEGER", f"Attribute '{name}' has invalid integer value"), value
    lines = logged_lines(node)
    assert not [line for line in lines if "\n" in line or "Internal error" in line
                or "Traceback" in line or "error in instances/list" in line]


# --- queues and retry schedules created after the workflow ------------------------------------


def test_a_workflow_naming_a_missing_queue_is_saved_and_its_task_aborted(node):
    node.task("later.sh", "echo ran later")
    node.workflow("needs_queue", one_job("<task name='t' path='later.sh' queue='later_q'/>"))

    first = node.run_workflow("needs_queue")

    task = first.find(".//task")
    assert (first.get("status"), first.get("errors")) == ("TERMINATED", "1")
    assert (task.get("status"), task.get("error")) == ("ABORTED", "Unknown queue name")
    assert task.find("output") is None
    node.queue("later_q", 1)
    second = node.run_workflow("needs_queue")
    assert (second.get("status"), second.get("errors")) == ("TERMINATED", "0")
    assert second.find(".//output").text == "ran later\n"


def test_a_workflow_naming_a_missing_retry_schedule_is_saved_and_its_launch_refused(node):
    node.workflow("needs_schedule", one_job(
        "<task path='/bin/true' queue='default' retry_schedule='later_rs'/>"))
    error = error_of(node, "<instance action='launch' name='needs_schedule'/>")
    assert (error.code, error.message) == ("UKNOWN_OBJECT", "Unknown RetrySchedule name : later_rs")
    assert len(node.exec("<instances action='list' filter_workflow='needs_schedule'/>")) == 0

    node.exec(f"<retry_schedule action='create' name='later_rs' content='{b64(SHORT)}'/>")
    final = node.run_workflow("needs_schedule")
    assert (final.get("status"), final.get("errors")) == ("TERMINATED", "0")
    assert final.find("schedules/schedule").get("name") == "later_rs"
