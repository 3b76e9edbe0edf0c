"""protocol.md §9 E11: with ``core.auth.enable=no`` the greeting comes first, over TCP and unix."""

from __future__ import annotations

import pytest

from tests.e2e.apiwire import TRANSPORTS, Wire, shape
from tests.e2e.nodes import Node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("noauth"), name="node4",
                settings={"core.auth.enable": "no"}).start()
    yield node
    node.stop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_e11_greeting_first_and_auth_is_an_unknown_command(node, transport):
    with Wire(node, transport) as wire:
        tag, attrs, _, _ = shape(wire.message())
        assert (tag, attrs) == ("ready", {"node": "node4", "profile": "ADMIN", "status": "OK",
                                          "time": "<time>", "version": "3.3"})
        wire.send('<auth response="x" user="admin" />\n')
        assert shape(wire.message()) == shape(
            '<response error="Unknown command or action" error-code="UNKNOWN_COMMAND"'
            ' node="node4" status="KO"/>')
        # the anonymous user is an ADMIN and the connection stays open
        wire.send("<status action='query' type='configuration'/>\n")
        assert b'<entry name="core.auth.enable" value="no"/>' in wire.message()
