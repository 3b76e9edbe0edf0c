"""What the storage pages compute (pages/storage-model.js): values between the engine's JSON and
the editor, and the items a display shows."""

from __future__ import annotations

from tests.web.jsrun import needs_node, run_js

pytestmark = needs_node

MODEL = {"M": "pages/storage-model.js"}


def test_editor_text_and_stored_json_round_trip() -> None:
    got = run_js(MODEL, """
        const cases = [['STRING', 'NONE', 'a "quoted" text'], ['INT', 'NONE', ' 007 '],
                       ['INT', 'NONE', '-12'], ['BOOLEAN', 'NONE', 'false'],
                       ['INT', 'ARRAY', '[1, 2,3]'], ['STRING', 'MAP', '{"b": "x", "a": "y"}']];
        const stored = cases.map(([t, s, text]) => M.valueJson(t, s, text));
        return [stored, M.editorText('NONE', '"text"'), M.editorText('NONE', '42'),
                M.editorText('ARRAY', '["a","b"]'), M.editorText('MAP', ''),
                M.editorText('ARRAY', '')];""")
    assert got[0] == ['"a \\"quoted\\" text"', "7", "-12", "false", "[1,2,3]",
                      '{"b":"x","a":"y"}']
    assert got[1:] == ["text", "42", '[\n  "a",\n  "b"\n]', "{}", "[]"]


def test_a_mistyped_value_is_explained() -> None:
    got = run_js(MODEL, """
        const cases = [['INT', 'NONE', '1.5'], ['BOOLEAN', 'NONE', 'yes'],
                       ['STRING', 'ARRAY', '{"a": "b"}'], ['STRING', 'MAP', '["a"]'],
                       ['STRING', 'MAP', 'null'], ['INT', 'ARRAY', '[1, "2"]'],
                       ['BOOLEAN', 'MAP', '{"a": 1}'], ['STRING', 'ARRAY', '[1,']];
        return cases.map(([t, s, text]) => {
          try { return M.valueJson(t, s, text); } catch (e) { return e.message; }
        });""")
    assert got[:7] == [
        "The value must be an integer.", "The value must be true or false.",
        'The value must be an array, e.g. ["a", "b"].',
        'The value must be an object, e.g. {"key": "value"}.',
        'The value must be an object, e.g. {"key": "value"}.',
        "Every item must be an integer (type INT).",
        "Every item must be true or false (type BOOLEAN).",
    ]
    assert got[7].startswith("The value is not JSON: ")


def test_display_items_and_templates() -> None:
    got = run_js(MODEL, """
        const values = M.valuesByPath([
          { path: 'deploy', name: 'hosts', value: '["web1","web2"]' },
          { path: 'deploy', name: 'user', value: '"deployer"' },
          { path: 'deploy', name: 'ports', value: '{"web1":80,"web2":8080}' },
          { path: 'bad', name: 'json', value: '{' },
        ]);
        const render = (t, item) => M.renderTemplate(t, item, values);
        const map = M.displayItems(values.get('deploy/ports'));
        return [M.displayItems(values.get('deploy/hosts'), 'DESC'), map,
                M.displayItems(undefined), values.has('bad/json'),
                render('$key on {deploy/ports}.$key by {deploy/user}', { key: 'web2', value: 1 }),
                render('{deploy/hosts} {deploy/user}.x {deploy/ports}.none {nowhere}', map[0]),
                render('$value', { key: 'k', value: { a: true } }),
                M.shortValue('"' + 'x'.repeat(100) + '"', 10), M.shortValue('[1,2]')];""")
    assert got[0] == [{"key": "web2", "value": "web2"}, {"key": "web1", "value": "web1"}]
    assert got[1] == [{"key": "web1", "value": 80}, {"key": "web2", "value": 8080}]
    assert got[2:4] == [[], False]
    assert got[4] == "web2 on 8080 by deployer"
    assert got[5] == "{deploy/hosts} {deploy/user}.x {deploy/ports}.none {nowhere}"
    assert got[6] == '{"a":true}'
    assert got[7:] == ["xxxxxxxxx…", "[1,2]"]


def test_the_storage_menu_needs_the_module_on_every_node_whose_greeting_is_known() -> None:
    got = run_js({"C": "cluster.js"}, """
        const c = new C.Cluster({ url: 'ws://x/', user: 'a', passwordHash: null });
        const node = (mods) => ({ greeting: mods && { modules: mods.map((name) => ({ name })) } });
        const seen = [c.announces('storage')];
        c.nodes = [node(['git', 'storage']), node(null)];
        seen.push(c.announces('storage'));
        c.nodes.push(node(['git']));
        seen.push(c.announces('storage'));
        return seen;""")
    assert got == [False, True, False]
