"""protocol.md §9 examples replayed against a real node, over TCP and over the unix socket.

Replies must match evQueue's captured ones in elements, attributes and codes; attribute order,
times, uptimes and challenges are normalised (``shape``). The greeting lists the optional
modules the node serves: a subset of the captured ``git`` and ``storage``.

E3 (workflow create/list), the launch errors of E4 and every line of E8 are replayed too;
E5-E7 (running instances) are in the engine's end-to-end tests.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from lxml import etree

from tests.e2e.apiwire import TRANSPORTS, Wire, answer, shape
from tests.e2e.nodes import Node

CAPTURED_READY = (
    '<ready node="node1" profile="ADMIN" status="OK" time="2026-11-27 17:25:47" version="3.3">'
    '<modules><module name="git" version="3.3"/><module name="storage" version="3.3"/>'
    "</modules></ready>"
)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("examples")).start()
    # A USER-profile account (password "pw") for the rights example of E8.
    with sqlite3.connect(node.directory / "evqueue.db") as db:
        db.execute("INSERT INTO t_user(user_login, user_password, user_password_iterations,"
                   " user_profile, user_preferences) VALUES"
                   " ('bob', '1a91d62f7ca67399625a4368a6ab5d4a3baa6073', 0, 'USER', '')")
    yield node
    node.stop()


def assert_greeting(message: bytes, profile: str = "ADMIN") -> None:
    tag, attrs, children, _ = shape(message)
    expected_tag, expected_attrs, expected_children, _ = shape(CAPTURED_READY)
    assert (tag, attrs) == (expected_tag, {**expected_attrs, "profile": profile})
    (modules,) = children
    assert modules[0] == "modules"
    assert all(module in expected_children[0][2] for module in modules[2])


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_e1_connect_authenticate_ping_quit(node, transport):
    with Wire(node, transport) as wire:
        challenge_message = wire.message()
        assert shape(challenge_message) == shape(
            '<auth challenge="81129f065dd1513ebc4af8ef528f020933aba601" node="node1"'
            ' status="OK"/>')
        challenge = etree.fromstring(challenge_message).get("challenge")
        assert re.fullmatch("[0-9a-f]{40}", challenge)
        wire.send(f"<auth response='{answer(challenge, 'admin')}' user='admin' />")
        assert_greeting(wire.message())
        wire.send("<ping />\n")
        assert shape(wire.message()) == shape(
            '<response git-support="disabled" node="node1" status="OK" uptime="12"'
            ' version="3.3"/>')
        wire.send("<quit />\n")
        assert wire.closed(), "quit closes without a response"


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("user", ["admin", "nosuchuser"])
def test_e2_auth_failure(node, transport, user):
    with Wire(node, transport) as wire:
        wire.challenge()
        wire.send(f"<auth response='0000000000000000000000000000000000000000' user='{user}' />\n")
        assert shape(wire.message()) == shape(
            '<response error="Invalid authentication" error-code="AUTH_ERROR" node="node1"'
            ' status="KO"/>')
        assert wire.closed()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(("request_bytes", "error"), [
    (b"hello world\n", "Invalid query XML structure : invalid document structure"),
    (b"<ping a='1'>\n<oops></ping>\n", "Invalid query XML structure : expected end of tag 'oops'"),
])
def test_e8_fatal_errors_close_the_connection(node, transport, request_bytes, error):
    with Wire(node, transport) as wire:
        wire.login()
        wire.send(request_bytes)
        assert shape(wire.message()) == shape(
            f'<response error="{error}" error-code="UNEXPECTED_EXCEPTION" node="node1"'
            ' status="KO"/>')
        assert wire.closed()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_e8_request_errors_keep_the_connection(node, transport):
    with Wire(node, transport) as wire:
        wire.login()
        exchanges = [
            ("<unknowncmd action='x'/>\n",
             '<response error="Unknown command or action" error-code="UNKNOWN_COMMAND"'
             ' node="node1" status="KO"/>'),
            # Same rules on the groups this node serves: a missing action, a bad integer.
            ("<status/>\n",
             '<response error="Missing \'action\' attribute" error-code="MISSING_PARAMETER"'
             ' node="node1" status="KO"/>'),
            ("<datastore action='get' id='abc'/>\n",
             '<response error="Attribute \'id\' has invalid integer value"'
             ' error-code="INVALID_INTEGER" node="node1" status="KO"/>'),
            ("<status action='query' type='nosuch'/>\n",
             '<response error="Unknown type" error-code="UNKNOWN_TYPE" node="node1"'
             ' status="KO"/>'),
            ("<control action='reload' module='nosuch'/>\n",
             '<response error="Invalid module : nosuch" error-code="INVALID_MODULE"'
             ' node="node1" status="KO"/>'),
        ]
        for request, reply in exchanges:
            wire.send(request)
            assert shape(wire.message()) == shape(reply), request
        wire.send("<ping />\n")
        assert b'status="OK"' in wire.message()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_e8_insufficient_rights_for_a_user_profile(node, transport):
    with Wire(node, transport) as wire:
        assert_greeting(wire.login("bob", "pw"), profile="USER")
        for request in ("<control action='reload'/>\n",
                        "<status action='query' type='configuration'/>\n"):
            wire.send(request)
            assert shape(wire.message()) == shape(
                '<response error="insufficient rights" error-code="INSUFFICIENT_RIGHTS"'
                ' node="node1" status="KO"/>')
        wire.send("<ping/>\n")
        assert b'status="OK"' in wire.message()


E3_CONTENT = (
    "PHdvcmtmbG93PjxwYXJhbWV0ZXJzPjxwYXJhbWV0ZXIgbmFtZT0iZHVyYXRpb24iLz48L3BhcmFtZXRlcnM+PHN1Ymp"
    "vYnM+PGpvYiBuYW1lPSJqMSI+PHRhc2tzPjx0YXNrIHR5cGU9IkJJTkFSWSIgcGF0aD0iL2Jpbi9zbGVlcCIgbmFtZT0i"
    "c2xlZXAiIHF1ZXVlPSJkZWZhdWx0Ij48aW5wdXQgbmFtZT0iZCI+PHZhbHVlIHNlbGVjdD0iL3dvcmtmbG93L3BhcmFt"
    "ZXRlcnMvcGFyYW1ldGVyW0BuYW1lPSdkdXJhdGlvbiddIi8+PC9pbnB1dD48L3Rhc2s+PC90YXNrcz48L2pvYj48L3N1"
    "YmpvYnM+PC93b3JrZmxvdz4=")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_e3_e4_e8_definitions_launch_errors_and_rights(node, transport):
    name = f"sleeper_{transport}"
    with Wire(node, transport) as wire:
        wire.login()
        wire.send(f"<workflow action='create' name='{name}' group='demo' comment='test wf' "
                  f"content='{E3_CONTENT}' />\n")
        created = etree.fromstring(wire.message())
        assert (created.get("status"), created.get("workflow-id") is not None) == ("OK", True)
        wire.send("<workflows action='list' />\n")
        listed = etree.fromstring(wire.message())
        row = next(w for w in listed if w.get("name") == name)
        assert dict(row.attrib) == {"comment": "test wf", "group": "demo", "lastcommit": "",
                                    "name": name, "id": created.get("workflow-id")}
        exchanges = [
            (f"<instance action='launch' name='{name}'/>\n",
             '<response error="Invalid number of parameters passed to workflow (passed 0, '
             'expected 1)" error-code="INVALID_WORKFLOW_PARAMETERS" node="node1" status="KO"/>'),
            ("<instance action='launch' name='nosuch'/>\n",
             '<response error="Unknown Workflow name : nosuch" error-code="UKNOWN_OBJECT"'
             ' node="node1" status="KO"/>'),
            ("<workflow/>\n",
             '<response error="Missing \'action\' attribute" error-code="MISSING_PARAMETER"'
             ' node="node1" status="KO"/>'),
            ("<instance action='query' id='abc'/>\n",
             '<response error="Attribute \'id\' has invalid integer value"'
             ' error-code="INVALID_INTEGER" node="node1" status="KO"/>'),
        ]
        for request, reply in exchanges:
            wire.send(request)
            assert shape(wire.message()) == shape(reply), request
    with Wire(node, transport) as wire:
        wire.login("bob", "pw")
        wire.send("<users action='list' />\n")
        assert shape(wire.message()) == shape(
            '<response error="insufficient rights" error-code="INSUFFICIENT_RIGHTS"'
            ' node="node1" status="KO"/>')
