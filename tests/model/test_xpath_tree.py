"""The incremental node tree gives the same answers as a tree built from scratch."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from evqueue.model.xpath import AttrRef, Scope, XPathDocument, evaluate
from evqueue.model.xpath_tree import NodeTree

XML = "<workflow a='1'><x>t<y b='2'/>u<!--c--></x><z/></workflow>"

# A mutation: (kind, index of the target element in document order, a small integer).
mutations = st.lists(st.tuples(st.sampled_from(["append", "remove", "text", "tail", "insert"]),
                               st.integers(0, 30), st.integers(0, 5)), max_size=12)


def apply(root: etree._Element, doc: XPathDocument, kind: str, index: int, n: int) -> None:
    elements = list(root.iter(tag=etree.Element))
    target = elements[index % len(elements)]
    if kind == "append":
        etree.SubElement(target, f"e{n}", k=str(n)).text = f"v{n}"
        doc.changed(target)
    elif kind == "insert":
        target.insert(0, etree.Element(f"i{n}"))
        doc.changed(target)
    elif kind == "remove" and target is not root:
        parent = target.getparent()
        parent.remove(target)
        doc.changed(parent)
    elif kind == "text":
        target.text = f"text{n}"
        doc.changed(target)
    elif kind == "tail" and target is not root:
        target.tail = f"tail{n}"
        doc.changed(target.getparent())


def snapshot(doc: XPathDocument) -> list[str]:
    """Every node in document order, as elementpath sees it."""
    described = []
    for item in evaluate(doc, "//node() | //@*", doc.root, Scope()):
        if isinstance(item, etree._Element):
            described.append(etree.tostring(item, with_tail=False).decode())
        elif isinstance(item, AttrRef):
            described.append(f"{item.element.tag}/@{item.name}={item.value}")
        else:
            described.append(repr(item))
    return described


@settings(max_examples=60, deadline=None)
@given(mutations)
def test_incremental_equals_fresh(steps):
    root = etree.fromstring(XML)
    doc = XPathDocument(root)
    snapshot(doc)
    for kind, index, n in steps:
        apply(root, doc, kind, index, n)
        fresh = XPathDocument(etree.fromstring(etree.tostring(root)))
        assert snapshot(doc) == snapshot(fresh)


def test_attribute_nodes_are_fresh_each_evaluation():
    root = etree.fromstring(XML)
    tree = NodeTree(root)
    tree.refresh()
    assert [a.value for a in tree.node(root).attributes] == ["1"]
    root.set("a", "2")
    tree.refresh()
    assert [a.value for a in tree.node(root).attributes] == ["2"]


def test_detached_elements_are_ignored():
    root = etree.fromstring(XML)
    doc = XPathDocument(root)
    x = root.find("x")
    assert evaluate(doc, "count(//y)", root, Scope()) == [1]
    root.remove(x)
    doc.changed(x)  # the wrong element: it is no longer in the tree
    doc.changed(root)
    assert evaluate(doc, "count(//y)", root, Scope()) == [0]


def test_document_order_of_unions_after_rebuilds():
    root = etree.fromstring("<r><a/><b/></r>")
    doc = XPathDocument(root)
    evaluate(doc, "//*", root, Scope())
    a = root.find("a")
    etree.SubElement(a, "inner")
    doc.changed(a)
    names = [e.tag for e in evaluate(doc, "//b | //inner | //a", root, Scope())]
    assert names == ["a", "inner", "b"]
