"""Responses and server messages, byte for byte against the captures of protocol.md §9."""

from __future__ import annotations

import random
from datetime import datetime

import pytest
from lxml import etree

from evqueue.errors import (
    ApiError,
    AuthError,
    InsufficientRights,
    InvalidInteger,
    MissingParameter,
    UnknownCommand,
    UnknownObjectName,
    WrongNode,
    XmlSyntaxError,
)
from evqueue.protocol.response import (
    DPD_PING,
    Response,
    Transport,
    challenge_message,
    error_response,
    frame,
    greeting_message,
    serialize,
    serialize_element,
)


def shuffled(xml: bytes) -> etree._Element:
    """Parse ``xml`` and scramble the attribute order of every element."""
    element = etree.fromstring(xml)
    rng = random.Random(7)
    for node in element.iter(etree.Element):
        items = list(node.attrib.items())
        rng.shuffle(items)
        node.attrib.clear()
        node.attrib.update(items)
    return element


def payload_of(captured: bytes) -> tuple[dict[str, str], tuple[etree._Element, ...]]:
    """Split a captured OK response into extra root attributes and shuffled children."""
    root = shuffled(captured)
    attrs = {k: v for k, v in root.attrib.items() if k not in ("node", "status")}
    return attrs, tuple(root)


# --- captured OK responses --------------------------------------------------------------------


def test_e1_ping_reply() -> None:
    response = Response.success(
        {"version": "3.3", "uptime": 12, "git-support": "disabled"}  # any order in, sorted out
    )
    assert frame(serialize(response, node="node1"), Transport.STREAM) == (
        b'<response git-support="disabled" node="node1" status="OK" uptime="12" version="3.3"/>\n'
    )


def test_e3_create_then_list() -> None:
    created = Response.success({"workflow-id": 1})
    assert serialize(created, node="node1") == (
        b'<response node="node1" status="OK" workflow-id="1"/>'
    )
    workflow = etree.Element("workflow")
    for name, value in [("name", "sleeper"), ("id", "1"), ("lastcommit", ""), ("group", "demo"),
                        ("comment", "test wf")]:  # fmt: skip
        workflow.set(name, value)
    listed = Response.success(payload=[workflow])
    assert serialize(listed, node="node1") == (
        b'<response node="node1" status="OK"><workflow comment="test wf" group="demo" id="1" '
        b'lastcommit="" name="sleeper"/></response>'
    )


E6_QUERY = (
    b'<response node="node1" status="OK"><workflow comment="long" evqid="1" id="6" '
    b'name="sleeper" queued_tasks="0" running_tasks="1" start_time="2026-11-27 17:30:10" '
    b'status="EXECUTING"><parameters><parameter name="duration">30</parameter></parameters>'
    b'<subjobs><job context-id="1" evqid="2" name="j1" queued_tasks="0" running_tasks="1">'
    b'<tasks><task context-id="1" evqid="3" execution_time="2026-11-27 17:30:10" name="sleep" '
    b'path="/bin/sleep" pid="8170" queue="default" status="EXECUTING" tid="6" type="BINARY">'
    b'<input mode="text" name="d">30</input></task></tasks></job></subjobs></workflow>'
    b"</response>"
)

E7_QUERY = (
    b'<response node="node1" status="OK"><workflow comment="hello" end_time="2026-11-27 '
    b'17:29:10" error_tasks="1" errors="1" evqid="1" host="localhost" id="1" name="sleeper" '
    b'queued_tasks="0" running_tasks="0" start_time="2026-11-27 17:29:10" status="TERMINATED" '
    b'user="bob"><parameters><parameter name="duration">2</parameter></parameters><subjobs>'
    b'<job context-id="1" error_tasks="1" evqid="2" name="j1" queued_tasks="0" '
    b'running_tasks="0"><tasks><task context-id="1" evqid="3" execution_time="2026-11-27 '
    b'17:29:10" name="sleep" path="/bin/sleep" progression="100" queue="default" retval="-1" '
    b'status="TERMINATED" type="BINARY"><input mode="text" name="d">2</input><output '
    b'execution_time="2026-11-27 17:29:10" exit_time="2026-11-27 17:29:10" method="text" '
    b'retval="-1"/><stderr>ssh: connect to host localhost port 22: Connection refused&#xD;\n'
    b"</stderr><log/></task></tasks></job></subjobs></workflow></response>"
)

E7_LIST = (
    b'<response node="node1" rows="5" status="OK"><workflow comment="" end_time="2026-11-27 '
    b'17:29:58" errors="0" host="" id="5" name="sleeper" node_name="node1" '
    b'start_time="2026-11-27 17:29:51" status="TERMINATED"><tags/></workflow><workflow '
    b'comment="" end_time="2026-11-27 17:29:35" errors="0" host="" id="4" name="sleeper" '
    b'node_name="node1" start_time="2026-11-27 17:29:28" status="TERMINATED"><tags/>'
    b"</workflow></response>"
)

E6_STATISTICS = (
    b'<response node="node1" status="OK"><statistics><queue concurrency="1" name="default" '
    b'running_tasks="1" scheduler="fifo" size="0"/></statistics></response>'
)


@pytest.mark.parametrize("captured", [E6_QUERY, E7_QUERY, E7_LIST, E6_STATISTICS])
def test_captured_responses_are_reproduced_byte_for_byte(captured: bytes) -> None:
    attrs, payload = payload_of(captured)
    assert serialize(Response.success(attrs, payload), node="node1") == captured


def test_carriage_return_in_text_is_a_hex_reference() -> None:
    stderr = etree.Element("stderr")
    stderr.text = "refused\r\n"
    assert serialize_element(stderr) == b"<stderr>refused&#xD;\n</stderr>"


def test_escaping_in_attributes_and_text() -> None:
    element = etree.Element("x", b="q\"<>&'\r\n\t", a="é☃")
    element.text = "<&>\"'"
    assert serialize_element(element) == (
        '<x a="é☃" b="q&quot;&lt;&gt;&amp;\'&#xD;&#xA;&#x9;">&lt;&amp;&gt;"\'</x>'.encode()
    )
    # What we write reads back as the same values.
    again = etree.fromstring(serialize_element(element))
    assert again.get("b") == "q\"<>&'\r\n\t" and again.text == "<&>\"'"


def test_attributes_are_sorted_by_code_point() -> None:
    element = etree.Element("x")
    for name in ["b", "a-b", "B", "a", "_z", "A", "a_b", "ab"]:
        element.set(name, "")
    assert serialize_element(element) == b'<x A="" B="" _z="" a="" a-b="" a_b="" ab="" b=""/>'


def test_payload_is_copied_not_moved_or_modified() -> None:
    tree = etree.fromstring(b"<instances><workflow z='1' a='2'/></instances>")
    workflow = tree[0]
    data = serialize(Response.success(payload=[workflow]), node="n")
    assert data == b'<response node="n" status="OK"><workflow a="2" z="1"/></response>'
    assert workflow.getparent() is tree
    assert list(workflow.attrib) == ["z", "a"]
    assert serialize_element(tree) == b'<instances><workflow a="2" z="1"/></instances>'
    assert list(workflow.attrib) == ["z", "a"]


def test_text_payload() -> None:
    child = etree.Element("c")
    response = Response.success(payload=["tail of", child, " log\r", "!"])
    assert serialize(response, node="n") == (
        b'<response node="n" status="OK">tail of<c/> log&#xD;!</response>'
    )
    assert serialize(Response.success(payload=[""]), node="n") == (
        b'<response node="n" status="OK"></response>'
    )


def test_response_is_checked_when_built() -> None:
    for reserved in ("node", "status", "error", "error-code"):
        with pytest.raises(ValueError):
            Response({reserved: "x"})
    with pytest.raises(TypeError):
        Response(payload=(42,))  # type: ignore[arg-type]
    assert Response.success({"rows": 5}).attrs == {"rows": "5"}


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            UnknownCommand(),
            b'<response error="Unknown command or action" error-code="UNKNOWN_COMMAND" '
            b'node="node1" status="KO"/>',
        ),
        (
            MissingParameter.attribute("action"),
            b'<response error="Missing \'action\' attribute" error-code="MISSING_PARAMETER" '
            b'node="node1" status="KO"/>',
        ),
        (
            InvalidInteger.attribute("id"),
            b"<response error=\"Attribute 'id' has invalid integer value\" "
            b'error-code="INVALID_INTEGER" node="node1" status="KO"/>',
        ),
        (
            InsufficientRights(),
            b'<response error="insufficient rights" error-code="INSUFFICIENT_RIGHTS" '
            b'node="node1" status="KO"/>',
        ),
        (
            AuthError(),
            b'<response error="Invalid authentication" error-code="AUTH_ERROR" node="node1" '
            b'status="KO"/>',
        ),
        (
            UnknownObjectName.by_name("Workflow", "nosuch"),
            b'<response error="Unknown Workflow name : nosuch" error-code="UKNOWN_OBJECT" '
            b'node="node1" status="KO"/>',
        ),
        (
            XmlSyntaxError("invalid document structure"),
            b'<response error="Invalid query XML structure : invalid document structure" '
            b'error-code="UNEXPECTED_EXCEPTION" node="node1" status="KO"/>',
        ),
        (
            ApiError("Error reading socket, recv() returned error 11", fatal=True),
            b'<response error="Error reading socket, recv() returned error 11" '
            b'error-code="UNEXPECTED_EXCEPTION" node="node1" status="KO"/>',
        ),
    ],
)
def test_captured_error_lines(error: ApiError, line: bytes) -> None:
    assert error_response(error, "node1") == line
    assert frame(error_response(error, "node1"), Transport.STREAM) == line + b"\n"


def test_error_without_code_has_no_error_code_attribute() -> None:
    error = ApiError("Could not resume workflow : empty savepoint")
    assert error_response(error, "node2") == (
        b'<response error="Could not resume workflow : empty savepoint" node="node2" status="KO"/>'
    )


def test_wrong_node_default_message() -> None:
    assert error_response(WrongNode(), "node2") == (
        b'<response error="Workflow instance is still running on another node, query the '
        b'corresponding node" error-code="WRONG_NODE" node="node2" status="KO"/>'
    )


def test_ko_status() -> None:
    response = Response.from_error(UnknownCommand())
    assert not response.ok
    assert Response.success().ok


# --- protocol messages ------------------------------------------------------------------------


def test_challenge_message() -> None:
    challenge = "81129f065dd1513ebc4af8ef528f020933aba601"
    assert frame(challenge_message(challenge, "node1"), Transport.STREAM) == (
        b'<auth challenge="81129f065dd1513ebc4af8ef528f020933aba601" node="node1" status="OK"/>\n'
    )


def test_greeting_message() -> None:
    data = greeting_message(
        node="node1",
        profile="ADMIN",
        time=datetime(2026, 11, 27, 17, 25, 47),
        modules=["git", "storage"],
    )
    assert data == (
        b'<ready node="node1" profile="ADMIN" status="OK" time="2026-11-27 17:25:47" '
        b'version="3.3"><modules><module name="git" version="3.3"/><module name="storage" '
        b'version="3.3"/></modules></ready>'
    )


def test_greeting_without_modules() -> None:
    data = greeting_message(node="fake", profile="USER", time=datetime(2026, 1, 2, 3, 4, 5))
    assert data == (
        b'<ready node="fake" profile="USER" status="OK" time="2026-01-02 03:04:05" '
        b'version="3.3"><modules/></ready>'
    )


def test_dpd_ping_and_framing() -> None:
    assert DPD_PING == b"<ping />\n" and len(DPD_PING) == 9
    assert frame(b"<x/>", Transport.STREAM) == b"<x/>\n"
    assert frame(b"<x/>", Transport.WEBSOCKET) == b"<x/>"
