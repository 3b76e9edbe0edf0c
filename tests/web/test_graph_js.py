"""The pure parts of the workflow graph under Node.js: the tidy tree layout (graph/layout.js)
and the undo history (graph/history.js)."""

from __future__ import annotations

from tests.web.jsrun import needs_node, run_js

pytestmark = needs_node


def test_layout_puts_children_below_side_by_side_and_centres_the_parent() -> None:
    got = run_js({"L": "graph/layout.js"}, """
        const leaf = (w) => ({ width: w, height: 40, children: [] });
        const a = leaf(100), b = { width: 120, height: 60, children: [leaf(80)] }, c = leaf(100);
        const root = { width: 90, height: 30, children: [a, b, c] };
        const size = L.layoutTree(root, { gap: 20, rowGap: 40, margin: 10 });
        const centre = (n) => n.x + n.width / 2;
        return { size, root: [root.x, root.y], ys: [a.y, b.y, c.y, b.children[0].y],
                 gaps: [b.x - (a.x + a.width), c.x - (b.x + b.width)],
                 centred: centre(root) === (centre(a) + centre(c)) / 2 };""")
    assert got["root"][1] == 10
    # one row per depth, as tall as its tallest box (60), rowGap 40 between rows
    assert got["ys"] == [80, 80, 80, 180]
    assert got["gaps"] == [20, 20]
    assert got["centred"]
    assert got["size"] == {"width": 10 + 100 + 20 + 120 + 20 + 100 + 10, "height": 180 + 40 + 10}


def test_layout_packs_subtrees_by_their_contours() -> None:
    # A deep narrow branch next to a wide shallow one: the second branch's root row sits close
    # to the first, even though the first branch is wider further down.
    got = run_js({"L": "graph/layout.js"}, """
        const leaf = () => ({ width: 100, height: 40, children: [] });
        const wide = { width: 100, height: 40, children: [leaf(), leaf(), leaf()] };
        const narrow = { width: 100, height: 40, children: [] };
        const root = { width: 100, height: 40, children: [wide, narrow] };
        L.layoutTree(root, { gap: 20 });
        const all = L.flatten(root);
        let overlaps = 0;
        for (const p of all) for (const q of all)
          if (p !== q && p.y === q.y && p.x < q.x + q.width && q.x < p.x + p.width) overlaps += 1;
        return { overlaps, between: narrow.x - (wide.x + wide.width), count: all.length };""")
    assert got["count"] == 6
    assert got["overlaps"] == 0
    assert got["between"] == 20


def test_history_undoes_and_redoes_and_merges_typing() -> None:
    got = run_js({"H": "graph/history.js"}, """
        const h = new H.History();
        h.reset('a');
        h.record('b');                      // a structural edit
        h.record('bx', { typing: true });   // typing in a field: one step ...
        h.record('bxy', { typing: true });  // ... however many keys
        const steps = [h.undo(), h.undo(), h.undo(), h.redo(), h.redo(), h.redo()];
        h.undo();
        h.record('c');                      // a new edit forgets what was undone
        return { steps, canRedo: h.canRedo(), back: h.undo() };""")
    assert got["steps"] == ["b", "a", None, "b", "bxy", None]
    assert got["canRedo"] is False
    assert got["back"] == "b"
