"""The instance tree: evQueue's identifiers, statuses and counters on an lxml ``<workflow>``.

Rules:

* Every node that needs an identity gets ``evqid="N"`` from a per-document counter, rebuilt
  from the tree on reload. An attribute node is identified as ``"N/@name"`` (N is its owner's).
* Statuses change only through :meth:`InstanceTree.set_status`, which applies the tables of
  :mod:`evqueue.engine.statuses`.
* The counters ``running_tasks``, ``queued_tasks``, ``retrying_tasks``, ``error_tasks`` and
  ``waiting_conditions`` live on a task's job, every ancestor job and the root.
* Structural changes (elements or text added, removed, moved) are reported to the XPath cache
  with :meth:`InstanceTree.changed`.
* :meth:`InstanceTree.unpack` rebuilds a tree from its text with the same evqids and counter.
"""

from __future__ import annotations

import logging

from lxml import etree

from evqueue.engine.statuses import Status, Trigger, next_status
from evqueue.model.document import parse_xml
from evqueue.model.xpath import AttrRef, ContextItem, XPathDocument

__all__ = ["COUNTERS", "InstanceTree"]

logger = logging.getLogger(__name__)

#: Counter attributes kept on jobs and on the root.
COUNTERS = ("running_tasks", "queued_tasks", "retrying_tasks", "error_tasks", "waiting_conditions")

class InstanceTree:
    """The ``<workflow>`` tree of one instance and its identifier index.

    Args:
        root: the ``<workflow>`` element.
    """

    __slots__ = ("_by_evqid", "_last_evqid", "root", "xpath")

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.xpath = XPathDocument(root, self.find)
        self._by_evqid: dict[str, etree._Element] = {}
        self._last_evqid = 0
        self.reindex()

    # -- identifiers --------------------------------------------------------------------------

    def reindex(self) -> None:
        """Rebuild the evqid index and counter from the tree (after loading a savepoint)."""
        self._by_evqid.clear()
        for element in self.root.iter():
            value = element.get("evqid") if isinstance(element.tag, str) else None
            if value is None:
                continue
            if value.isdigit():
                self._last_evqid = max(self._last_evqid, int(value))
            # Loop items copied into inputs by <copy> carry the evqid of their original.
            if next(element.iterancestors("input", "stdin", "script"), None) is None:
                self._by_evqid[value] = element

    def evqid(self, node: ContextItem) -> str:
        """The node's evqid, assigning the next one when it has none."""
        element = node.element if isinstance(node, AttrRef) else node
        value = element.get("evqid")
        if value is None:
            self._last_evqid += 1
            value = str(self._last_evqid)
            element.set("evqid", value)
            self._by_evqid[value] = element
        if isinstance(node, AttrRef):
            return f"{value}/@{node.name}"
        return value

    def renew_evqid(self, element: etree._Element) -> str:
        """Give a loop clone its own evqid (clone 0 keeps the original's)."""
        element.attrib.pop("evqid", None)
        return self.evqid(element)

    def register(self, element: etree._Element) -> None:
        """Point the index at *element* for the evqid it carries (clone 0 of a loop)."""
        value = element.get("evqid")
        if value is not None:
            self._by_evqid[value] = element

    def find(self, context_id: str) -> ContextItem | None:
        """The node a ``context-id`` ("N" or "N/@name") designates, or None."""
        evqid, _, attr = context_id.partition("/@")
        element = self._by_evqid.get(evqid)
        if element is None:
            return None
        return AttrRef(element, attr) if attr else element

    def task(self, evqid: str) -> etree._Element | None:
        """The ``<task>`` element with this evqid, or None."""
        element = self._by_evqid.get(evqid)
        return element if element is not None and element.tag == "task" else None

    # -- statuses -----------------------------------------------------------------------------

    def set_status(self, node: etree._Element, trigger: Trigger) -> Status:
        """Apply *trigger* to *node*'s status through the transition tables.

        Raises:
            InvalidTransition: the node's current status does not allow *trigger*.
        """
        current = node.get("status", "")
        status = next_status(node.tag, current, trigger)
        if status is Status.NONE:
            node.attrib.pop("status", None)
        else:
            node.set("status", status.value)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "= instance %s %s %s %s -> %s", self.root.get("id"), node.tag,
                node.get("evqid"), current or "NONE", status.value or "NONE",
            )
        return status

    # -- counters -----------------------------------------------------------------------------

    def add_counter(self, name: str, delta: int, node: etree._Element) -> None:
        """Add *delta* to counter *name* on *node*'s job, its ancestor jobs and the root."""
        job: etree._Element | None
        if node.tag == "task":
            job = _up(node)
        elif node.tag in ("job", "workflow"):
            job = node
        else:
            return
        while job is not None:
            job.set(name, str(int(job.get(name, "0")) + delta))
            job = _up(job)

    def clear_counters(self) -> None:
        """Remove every counter attribute (before recomputing them on resume)."""
        for element in self.root.iter("workflow", "job", "task"):
            for name in COUNTERS:
                element.attrib.pop(name, None)

    # -- structure ----------------------------------------------------------------------------

    def changed(self, element: etree._Element | None = None) -> None:
        """Report elements or text added, removed or moved under *element*."""
        self.xpath.changed(element)

    def serialize(self) -> str:
        """The instance XML as a string."""
        return etree.tostring(self.root, encoding="unicode")

    @property
    def last_evqid(self) -> int:
        """The highest evqid given so far (kept when the tree is packed)."""
        return self._last_evqid

    @classmethod
    def unpack(cls, xml: str, last_evqid: int) -> InstanceTree:
        """The tree of :meth:`serialize`'s ``xml``, its evqid counter where it was."""
        tree = cls(parse_xml(xml))
        tree._last_evqid = max(tree._last_evqid, last_evqid)
        return tree


def _up(element: etree._Element) -> etree._Element | None:
    parent = element.getparent()
    return parent.getparent() if parent is not None else None
