"""An elementpath node tree kept up to date over a changing lxml tree.

elementpath evaluates XPath over its own node objects, and building them for a whole instance
costs about 5 µs per element — too much to redo before every evaluation of an instance that
grows (a job loop over 500 items evaluates thousands of expressions while adding clones).
:class:`NodeTree` builds the nodes once and then follows the changes:

* Attribute nodes are made on demand and remembered; :meth:`NodeTree.refresh` forgets the ones
  made during the last evaluation, so attribute changes need no report.
* Structural changes (elements or text added, removed or moved) are reported with
  :meth:`NodeTree.invalidate`; :meth:`NodeTree.refresh` rebuilds only the reported subtrees.
* Positions (document order, used to sort unions and ``//`` results) are tuples: a child's is
  its parent's plus its index, an attribute's is its element's plus ``(-1, i)``. Rebuilding a
  subtree therefore never renumbers the rest of the tree.
"""

from __future__ import annotations

from typing import Any

from elementpath.xpath_nodes import (
    CommentNode,
    ElementNode,
    EtreeDocumentNode,
    EtreeElementNode,
    ProcessingInstructionNode,
    TextAttributeNode,
    TextNode,
    XPathNodeTree,
)
from lxml import etree

__all__ = ["NodeTree"]


class _Tree(XPathNodeTree):
    """elementpath's shared tree state, plus the elements whose attributes were read."""

    __slots__ = ("touched",)

    def __init__(self, root: Any) -> None:
        super().__init__(root)
        self.touched: list[_Element] = []


class _Element(EtreeElementNode):
    """An element node with tuple positions and attribute nodes made on demand."""

    __slots__ = ()

    @property
    def attributes(self) -> list[Any]:
        try:
            return self._attributes
        except AttributeError:
            pass
        base = self.position
        attributes = self._attributes = [
            TextAttributeNode(name, value, self, base + (-1, index))
            for index, (name, value) in enumerate(self.value.attrib.items())
        ]
        self.tree.touched.append(self)
        return attributes

    @property
    def namespace_nodes(self) -> list[Any]:
        return []  # instance trees have no namespaces


class NodeTree:
    """The node tree of the lxml tree rooted at *root*."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.document = EtreeDocumentNode(root.getroottree(), position=())
        self.document.tree = self._tree = _Tree(self.document)
        _fill(_Element(root, self.document, (0,)))
        self._dirty: list[etree._Element] = []

    def node(self, element: etree._Element) -> ElementNode:
        """The node of an element of the tree.

        Raises:
            KeyError: the element is not (or no longer) part of the tree.
        """
        return self._tree.elements[element]

    def invalidate(self, element: etree._Element) -> None:
        """Report that the children or text under *element* changed."""
        self._dirty.append(element)

    def refresh(self) -> EtreeDocumentNode:
        """Bring the nodes up to date with the lxml tree; return the document node."""
        for node in self._tree.touched:
            try:
                del node._attributes
            except AttributeError:
                pass
        self._tree.touched.clear()
        if self._dirty:
            dirty, self._dirty = self._dirty, []
            rebuilt: set[etree._Element] = set()
            for element in sorted(set(dirty), key=_depth):
                node = self._cached_ancestor(element)
                if node is None or any(a in rebuilt for a in node.value.iterancestors()):
                    continue
                rebuilt.add(node.value)
                self._rebuild(node)
        return self.document

    def _cached_ancestor(self, element: etree._Element) -> ElementNode | None:
        """The node of *element* or of its nearest ancestor with one, if attached to root."""
        top = element
        while top.getparent() is not None:
            top = top.getparent()
        if top is not self.root:
            return None  # detached: whoever removed it reported its old parent
        current: etree._Element | None = element
        while current is not None:
            node = self._tree.elements.get(current)
            if node is not None:
                return node
            current = current.getparent()
        return None

    def _rebuild(self, node: ElementNode) -> None:
        elements = self._tree.elements
        stack = list(node.children)
        while stack:
            child = stack.pop()
            if isinstance(child, ElementNode):
                if elements.get(child.value) is child:
                    del elements[child.value]
                stack.extend(child.children)
        node.children = []
        try:
            del node._attributes
        except AttributeError:
            pass
        _fill(node)


def _fill(top: ElementNode) -> None:
    """Create the nodes below *top* from its lxml element, in document order."""
    stack = [top]
    while stack:
        parent = stack.pop()
        element, position, index = parent.value, parent.position, 0
        if element.text is not None:
            TextNode(element.text, parent, position + (index,))
            index += 1
        for child in element:
            tag = child.tag
            if isinstance(tag, str):
                stack.append(_Element(child, parent, position + (index,)))
            elif tag is etree.Comment:
                CommentNode(child, parent, position + (index,))
            elif tag is etree.PI:
                ProcessingInstructionNode(child, None, parent, position + (index,))
            index += 1
            if child.tail is not None:
                TextNode(child.tail, parent, position + (index,))
                index += 1


def _depth(element: etree._Element) -> int:
    return sum(1 for _ in element.iterancestors())
