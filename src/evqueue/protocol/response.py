"""Messages the server sends, and their bytes on the wire.

Rules (protocol.md §1.4, §2, §3.2):

- Every server message is one XML element with no XML declaration, in UTF-8.
- Attributes are written in code-point order on every element, as evQueue's Xerces
  serializer does, so our output diffs cleanly against the original. Empty elements are
  written ``<x a="1"/>``. ``&``, ``<``, ``>`` are escaped in text; a carriage return is written
  ``&#xD;``; in attribute values ``"`` is ``&quot;`` and CR, LF, TAB are ``&#xD;``, ``&#xA;``,
  ``&#x9;`` (so they survive attribute normalization on the other side).
- A response always carries ``node`` and ``status`` (``OK`` or ``KO``); a KO response carries
  ``error`` and, when the error has a code, ``error-code``. A fatal error without a code is
  reported as ``UNEXPECTED_EXCEPTION`` (evQueue's connection handler does the same).
- Framing depends on the transport: TCP and unix sockets end each message with exactly one
  ``\\n``; a websocket message is one text frame with no newline.
- Payload elements given to a :class:`Response` are copied when serialized, never moved or
  modified, so the engine can hand out its live trees.
"""

from __future__ import annotations

import copy
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from lxml import etree

from evqueue import EVQUEUE_VERSION
from evqueue.errors import ApiError
from evqueue.times import format_time

__all__ = [
    "DPD_PING",
    "RESERVED_ATTRIBUTES",
    "Response",
    "Transport",
    "challenge_message",
    "error_response",
    "frame",
    "greeting_message",
    "serialize",
    "serialize_element",
]

#: Dead-peer-detection ping written on TCP/unix while a synchronous command waits (9 bytes,
#: framing included; never sent on a websocket).
DPD_PING = b"<ping />\n"

#: Root attributes a response sets itself; handlers may not set them.
RESERVED_ATTRIBUTES = frozenset({"node", "status", "error", "error-code"})

# lxml writes these as decimal character references; Xerces writes hexadecimal ones. lxml
# only ever emits them for the characters themselves (a literal "&#13;" in text is written
# "&amp;#13;"), so replacing them in the output is exact. Comments are the one place lxml
# copies text verbatim; responses never contain comments from clients.
_CHAR_REFS = ((b"&#13;", b"&#xD;"), (b"&#10;", b"&#xA;"), (b"&#9;", b"&#x9;"))


class Transport(enum.Enum):
    """How messages are delimited on a connection."""

    #: TCP or unix socket: each message is followed by one ``\n``.
    STREAM = "stream"
    #: Websocket: each message is one text frame, no trailing newline.
    WEBSOCKET = "websocket"


Payload = etree._Element | str


@dataclass(frozen=True)
class Response:
    """A ``<response>`` (or another root) to send to a client.

    Attributes:
        attrs: extra root attributes (``workflow-id``, ``rows``, …), values as text.
        payload: children of the root: lxml elements (copied when serialized) or text.
        error: the error message; set means status KO.
        error_code: evQueue's error code; set means status KO.
        root: the root element name, ``response`` except for protocol messages.
    """

    attrs: Mapping[str, str] = field(default_factory=dict)
    payload: tuple[Payload, ...] = ()
    error: str | None = None
    error_code: str | None = None
    root: str = "response"

    def __post_init__(self) -> None:
        clash = RESERVED_ATTRIBUTES.intersection(self.attrs)
        if clash:
            raise ValueError(f"reserved response attributes: {sorted(clash)}")
        for item in self.payload:
            if not isinstance(item, str | etree._Element):
                raise TypeError(f"payload items are lxml elements or str, not {type(item)}")
        attrs = {name: str(value) for name, value in self.attrs.items()}
        object.__setattr__(self, "attrs", MappingProxyType(attrs))
        object.__setattr__(self, "payload", tuple(self.payload))

    @property
    def ok(self) -> bool:
        """Whether the status is ``OK``."""
        return self.error is None and self.error_code is None

    @classmethod
    def success(
        cls, attrs: Mapping[str, str | int] | None = None, payload: Iterable[Payload] = ()
    ) -> Response:
        """Build an OK response.

        Args:
            attrs: extra root attributes; integers are written in decimal.
            payload: child elements or text.
        """
        return cls({k: str(v) for k, v in (attrs or {}).items()}, tuple(payload))

    @classmethod
    def from_error(cls, error: ApiError) -> Response:
        """Build the KO response reporting ``error``.

        A fatal error without a code is reported with ``UNEXPECTED_EXCEPTION``.
        """
        code = error.code
        if code is None and error.fatal:
            code = "UNEXPECTED_EXCEPTION"
        return cls(error=error.message, error_code=code)


def serialize_element(element: etree._Element) -> bytes:
    """Serialize an element by evQueue's rules (sorted attributes, CR as ``&#xD;``).

    Args:
        element: the element to write; it is not modified.

    Returns:
        UTF-8 bytes, no XML declaration, no framing.
    """
    element = copy.deepcopy(element)
    _sort_attributes(element)
    data = etree.tostring(element, encoding="utf-8")
    for decimal, hexadecimal in _CHAR_REFS:
        data = data.replace(decimal, hexadecimal)
    return data


def _sort_attributes(element: etree._Element) -> None:
    for node in element.iter(etree.Element):
        if len(node.attrib) > 1:
            items = sorted(node.attrib.items())
            node.attrib.clear()
            node.attrib.update(items)


def _append(parent: etree._Element, item: Payload) -> None:
    if isinstance(item, str):
        if len(parent):
            last = parent[-1]
            last.tail = (last.tail or "") + item
        else:
            parent.text = (parent.text or "") + item
    else:
        # deepcopy: appending would move the caller's element out of its own tree.
        parent.append(copy.deepcopy(item))


#: An attribute name, and an attribute value lxml writes as it is (printable ASCII but the
#: characters it escapes): a response of such attributes alone is written without lxml.
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_PLAIN_VALUE = re.compile(r"[ !#-%'-;=?-~]*")


def _plain(attrs: list[tuple[str, str]]) -> bool:
    return all(_PLAIN_NAME.fullmatch(name) and _PLAIN_VALUE.fullmatch(value)
               for name, value in attrs)


def serialize(response: Response, *, node: str) -> bytes:
    """Return the bytes of ``response`` as sent by node ``node``, without framing.

    Args:
        response: what to send.
        node: the ``cluster.node.name`` of this engine.

    Returns:
        UTF-8 XML of the root element.
    """
    attrs = dict(response.attrs)
    attrs["node"] = node
    attrs["status"] = "OK" if response.ok else "KO"
    if response.error is not None:
        attrs["error"] = response.error
    if response.error_code is not None:
        attrs["error-code"] = response.error_code
    items = sorted(attrs.items())
    if not response.payload and _plain(items):
        # Most replies (pings, launch acks, OK of a change): the bytes lxml would write.
        text = "".join([f'<{response.root}', *(f' {k}="{v}"' for k, v in items), "/>"])
        return text.encode()
    root = etree.Element(response.root, dict(items))  # root: sorted here
    for item in response.payload:
        _append(root, item)
    # The payload is already copied into root; sort and write without a second copy.
    for child in root:
        _sort_attributes(child)
    data = etree.tostring(root, encoding="utf-8")
    for decimal, hexadecimal in _CHAR_REFS:
        data = data.replace(decimal, hexadecimal)
    return data


def error_response(error: ApiError, node: str) -> bytes:
    """Return the KO response bytes (unframed) reporting ``error``.

    Example: ``<response error="Unknown command or action" error-code="UNKNOWN_COMMAND"
    node="node1" status="KO"/>``.
    """
    return serialize(Response.from_error(error), node=node)


def frame(message: bytes, transport: Transport) -> bytes:
    """Add the transport's message delimiter: one ``\\n`` on a stream, nothing on a websocket."""
    return message + b"\n" if transport is Transport.STREAM else message


def challenge_message(challenge: str, node: str) -> bytes:
    """Return ``<auth challenge="…" node="…" status="OK"/>`` (unframed)."""
    return serialize(Response({"challenge": challenge}, root="auth"), node=node)


def greeting_message(
    *,
    node: str,
    profile: str,
    time: datetime,
    modules: Sequence[str] = (),
    version: str = EVQUEUE_VERSION,
) -> bytes:
    """Return the ``<ready …>`` greeting sent after authentication (unframed).

    Args:
        node: this engine's node name.
        profile: the user's profile, ``ADMIN`` or ``USER``.
        time: the server's local time, written ``YYYY-MM-DD HH:MM:SS``.
        modules: optional modules loaded (``git``, ``storage``, ``elogs``), each announced with
            the engine version.
        version: the protocol version announced.
    """
    modules_element = etree.Element("modules")
    for name in modules:
        etree.SubElement(modules_element, "module", name=name, version=version)
    attrs = {"profile": profile, "time": format_time(time), "version": version}
    return serialize(Response(attrs, (modules_element,), root="ready"), node=node)
