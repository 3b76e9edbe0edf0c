"""wire.js: commands the console sends are well-formed XML carrying exactly the given values,
and base64 is of UTF-8 (what the engine decodes)."""

from __future__ import annotations

import base64
import json

from lxml import etree

from tests.web.jsrun import needs_node, run_js

pytestmark = needs_node

W = {"W": "wire.js"}
AWKWARD = "a \"quoted\" 'single' <tag> & amp\nline two\ttab é 日本 🚀"


def test_command_attributes_and_parameters_round_trip() -> None:
    got = run_js(W, f"""
        const v = {json.dumps(AWKWARD)};
        return W.buildCommand('instance', {{ action: 'launch', name: 'hello', comment: v }},
                              [['who', v], ['n', '42']]);""")
    root = etree.fromstring(got.encode())
    assert root.tag == "instance"
    assert root.get("action") == "launch"
    assert root.get("comment") == AWKWARD
    assert [(p.get("name"), p.get("value")) for p in root.findall("parameter")] == [
        ("who", AWKWARD), ("n", "42")]


def test_empty_values_are_left_out_unless_kept() -> None:
    got = run_js(W, """
        return [
          W.buildCommand('instances',
                         { action: 'list', filter_node: '', filter_id: undefined, limit: 30 }),
          W.buildCommand('workflow', { action: 'edit', id: 1, comment: '', group: '' }, [],
                         ['comment']),
          W.buildCommand('queue', { action: 'create', dynamic: false, x: true })];""")
    assert got[0] == '<instances action="list" limit="30"/>'
    assert got[1] == '<workflow action="edit" id="1" comment=""/>'
    assert got[2] == '<queue action="create" dynamic="no" x="yes"/>'


def test_base64_is_of_utf8_bytes_both_ways() -> None:
    got = run_js(W, f"""
        const v = {json.dumps(AWKWARD)};
        return [W.base64Encode(v), W.base64Decode(W.base64Encode(v)),
                W.base64FromBytes(new Uint8Array([0, 255, 128, 10]))];""")
    assert got[0] == base64.b64encode(AWKWARD.encode()).decode()
    assert got[1] == AWKWARD
    assert got[2] == base64.b64encode(bytes([0, 255, 128, 10])).decode()


def test_large_content_encodes_in_chunks() -> None:
    # String.fromCharCode has an argument limit; a 300 KB workflow must still encode.
    got = run_js(W, """
        const t = 'x'.repeat(300000) + 'é';
        return W.base64Decode(W.base64Encode(t)).length;""")
    assert got == 300001


def test_line_numbers_are_found_in_engine_messages() -> None:
    got = run_js(W, """
        return ["Element 'task', line 11: The attribute 'queue' is required",
                'error on line 14 at column 11', 'Line: 3 bad', 'no number here']
          .map(W.lineFromMessage);""")
    assert got == [11, 14, 3, None]


def test_engine_error_text_names_the_code_and_node() -> None:
    got = run_js(W, """
        return [new W.EngineError('Unknown instance', 'UNKNOWN_INSTANCE', 'node2').describe(),
                new W.EngineError('Could not resume', '', '').describe()];""")
    assert got == ["Unknown instance (UNKNOWN_INSTANCE on node2)", "Could not resume"]
