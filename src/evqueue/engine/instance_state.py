"""The runtime state of one instance, shared by the modules of the state machine.

:class:`InstanceState` holds the tree, the counters, the cancelling flag, the waiting nodes, the
time of the call being handled and the actions produced so far. The job, value, output and retry
modules are functions over it; :class:`~evqueue.engine.instance.Instance` is their public face.

Errors in expressions follow evQueue: :meth:`InstanceState.fail` records ``status="ABORTED"``
and ``error="<what> : <message>"`` on the node, then raises :class:`EvaluationFailed`, which
climbs to the enclosing ``run_subjobs`` (the job is aborted and one error counted) and stops at
the entry point that started the run. It never leaves the state machine.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn, Protocol

from lxml import etree

from evqueue.engine.actions import Action, Emit
from evqueue.engine.statuses import Trigger
from evqueue.engine.tree import InstanceTree
from evqueue.model.document import parse_xml
from evqueue.model.xpath import XPathError

__all__ = ["EvaluationFailed", "InstanceSettings", "InstanceState", "QueueResolver"]

#: A packed text up to this size is parsed whole to read its root's attributes (quicker than
#: a pull parser); a larger one is fed to a pull parser in chunks of this size.
_SMALL_XML = 4096


class QueueResolver(Protocol):
    """Read-only view of the queue pool used when a task is enqueued."""

    def resolve(self, queue: str, host: str) -> str | None:
        """The queue a task of *queue* on *host* goes to (``queue@host`` for a dynamic
        queue with a host), or None when *queue* does not exist."""
        ...


@dataclass(frozen=True)
class InstanceSettings:
    """Configuration the state machine reads.

    Attributes:
        environ: variables for ``$VAR`` expansion in task paths (the engine's environment).
    """

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


class EvaluationFailed(Exception):
    """An expression failed; the error is already recorded on its node."""


@dataclass(slots=True)
class InstanceState:
    """Mutable state of one instance while a state-machine method runs.

    The tree may be packed (:meth:`pack`): an instance whose tasks all wait in queues keeps
    only its XML text, a tenth of its tree's memory, and :attr:`tree` rebuilds the tree the
    first time it is needed again.
    """

    _tree: InstanceTree | None
    queues: QueueResolver
    settings: InstanceSettings
    instance_id: int = 0
    now: datetime.datetime = datetime.datetime(1970, 1, 1)
    cancelling: bool = False
    running: int = 0  # queued + executing tasks
    queued: int = 0
    retrying: int = 0
    errors: int = 0
    waiting: int = 0  # waiting conditions
    waiting_nodes: list[etree._Element] = field(default_factory=list)
    retry_pending: set[str] = field(default_factory=set)  # evqids with an armed retry
    actions: list[Action] = field(default_factory=list)
    _packed: tuple[str, int] | None = None  # (XML, evqid counter) while the tree is packed

    @property
    def tree(self) -> InstanceTree:
        """The instance tree (unpacked if it was packed)."""
        if self._tree is None:
            assert self._packed is not None
            self._tree = InstanceTree.unpack(*self._packed)
            self._packed = None
        return self._tree

    @property
    def root(self) -> etree._Element:
        """The ``<workflow>`` element."""
        return self.tree.root

    @property
    def packed(self) -> bool:
        """Whether only the XML text of the tree is kept (:meth:`pack`)."""
        return self._tree is None

    def pack(self, xml: str) -> None:
        """Keep only ``xml``, the tree's :meth:`~InstanceTree.serialize` (call it only when
        nothing outside the tree holds one of its elements: no waiting condition)."""
        assert self._tree is not None and not self.waiting_nodes
        self._packed = (xml, self._tree.last_evqid)
        self._tree = None

    def root_attributes(self) -> dict[str, str]:
        """The attributes of ``<workflow>``; of a packed tree, read from the start of its text
        (the tree stays packed, and a large one is not parsed whole)."""
        if self._packed is not None:
            return _root_attributes(self._packed[0])
        return dict(self.tree.root.attrib)

    def view(self) -> etree._Element:
        """The ``<workflow>`` element to read: the live one, or, packed, a copy parsed from
        the text (the tree stays packed)."""
        if self._packed is not None:
            return parse_xml(self._packed[0])
        return self.tree.root

    def serialize(self) -> str:
        """The instance XML (the packed text as it is)."""
        if self._packed is not None:
            return self._packed[0]
        return self.tree.serialize()

    def emit(self, action: Action) -> None:
        """Queue an action for the asynchronous layer."""
        self.actions.append(action)

    def event(self, name: str) -> None:
        """Queue a task/instance event about this instance."""
        self.actions.append(Emit(name, self.instance_id))

    def take_actions(self) -> list[Action]:
        """The actions produced so far, emptying the list."""
        actions, self.actions = self.actions, []
        return actions

    # -- counters (instance totals and the XML attributes together) ---------------------------

    def count(self, name: str, delta: int, node: etree._Element) -> None:
        """Change one of the five counters by *delta*, on the instance and in the tree."""
        attr = {
            "running": "running_tasks",
            "queued": "queued_tasks",
            "retrying": "retrying_tasks",
            "errors": "error_tasks",
            "waiting": "waiting_conditions",
        }[name]
        setattr(self, name, getattr(self, name) + delta)
        self.tree.add_counter(attr, delta, node)

    def error(self, node: etree._Element) -> None:
        """Count one error against *node* (a task or a job)."""
        self.count("errors", 1, node)

    # -- failures -----------------------------------------------------------------------------

    def abort(self, node: etree._Element, message: str) -> None:
        """Mark *node* ABORTED with *message* as its error (no error counted).

        An aborted task is told with ``TASK_TERMINATE``: a task taken out of its queue or its
        retry by a cancel ends there, and a client following the instance must see it."""
        self.tree.set_status(node, Trigger.ABORT)
        node.set("error", message)
        if node.tag == "task":
            self.event("TASK_TERMINATE")

    def fail(
        self, node: etree._Element, what: str, exc: Exception, expression: str | None = None
    ) -> NoReturn:
        """Record an evaluation failure on *node* and raise :class:`EvaluationFailed`."""
        if isinstance(exc, XPathError) and expression is not None:
            detail = f"XPath expression error in '{expression}'. XPath returned error : {exc}"
        else:
            detail = str(exc)
        self.abort(node, f"{what} : {detail}")
        raise EvaluationFailed(node.get("error"))


def _root_attributes(xml: str) -> dict[str, str]:
    if len(xml) <= _SMALL_XML:
        return dict(parse_xml(xml).attrib)
    parser = etree.XMLPullParser(events=("start",), resolve_entities=False, no_network=True)
    for start in range(0, len(xml), _SMALL_XML):
        parser.feed(xml[start:start + _SMALL_XML])
        for _, element in parser.read_events():
            return dict(element.attrib)
    raise ValueError("an instance text without a root element")
