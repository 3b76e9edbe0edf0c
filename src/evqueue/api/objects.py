"""What the definition command groups share: reply elements, lookups, value limits.

Rules:

- Reply elements are built with :func:`element`; attribute values are text, booleans are
  written by the caller as evQueue does for that attribute (``yes``/``no`` through
  :func:`yes_no`, or ``1``/``0``).
- Lists are sorted by name in code-point order, as evQueue's ``std::map`` caches do, whatever
  the database's collation.
- An object named by ``id`` (or, for workflows and users, by ``id`` else ``name``) follows
  evQueue's ``APIObjectList``: ``Unknown <Type> ID : N`` (UNKNOWN_OBJECT) or
  ``Unknown <Type> name : X`` (UKNOWN_OBJECT, sic). ``id="0"`` counts as absent.
- Text limits are the widths of evQueue's columns: a longer value is refused with
  INVALID_PARAMETER on every backend instead of being truncated by one and refused by another.
- Binary base64 (plugin zips, configurations) follows the rules of
  :func:`evqueue.model.content.decode_content` (blanks skipped, complete blocks only) without
  requiring UTF-8.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

from lxml import etree

from evqueue.model.document import parse_xml
from evqueue.protocol import (
    ApiError,
    Command,
    InvalidParameter,
    MissingParameter,
    UnknownObject,
    UnknownObjectName,
)

__all__ = [
    "check_json",
    "check_length",
    "decode_base64",
    "element",
    "encode_base64",
    "id_or_name",
    "parse_stored",
    "require_found",
    "sorted_by",
    "yes_no",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

_BLANKS = str.maketrans("", "", " \t\r\n")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)


def element(tag: str, attrs: Mapping[str, object] | None = None,
            children: Iterable[etree._Element] = ()) -> etree._Element:
    """Build a reply element; attribute values are converted with ``str``.

    Args:
        tag: the element name.
        attrs: its attributes.
        children: elements appended in order.
    """
    node = etree.Element(tag)
    for name, value in (attrs or {}).items():
        node.set(name, str(value))
    for child in children:
        node.append(child)
    return node


def yes_no(value: bool) -> str:
    """evQueue's textual boolean in replies."""
    return "yes" if value else "no"


def sorted_by(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """Sort by a text key in code-point order (evQueue's ``std::map<std::string, …>``)."""
    return sorted(items, key=key)


def check_length(value: str, limit: int, message: str) -> None:
    """Refuse a value longer than its column.

    Raises:
        InvalidParameter: with ``message``.
    """
    if len(value) > limit:
        raise InvalidParameter(message)


def check_json(text: str, message: str) -> None:
    """Refuse text that is not one JSON document (NaN and Infinity are not JSON).

    Raises:
        InvalidParameter: with ``message``.
    """
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise InvalidParameter(message) from None


def _refuse_constant(name: str) -> None:
    raise ValueError(name)


def decode_base64(value: str, message: str = "Invalid base64 sequence") -> bytes:
    """Decode a base64 attribute holding binary data.

    Raises:
        InvalidParameter: with ``message`` when the value is not base64.
    """
    compact = value.translate(_BLANKS)
    if len(compact) % 4 or not _BASE64.fullmatch(compact):
        raise InvalidParameter(message)
    try:
        return binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error:
        raise InvalidParameter(message) from None


def encode_base64(data: bytes | str) -> str:
    """Standard base64 of bytes, or of text encoded as UTF-8."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return base64.b64encode(raw).decode("ascii")


def parse_stored(xml: str, fallback: str) -> etree._Element:
    """Parse a stored document (a definition, a manifest) to put it in a reply.

    A document that no longer parses (written by another tool) is logged and replaced by an
    empty ``fallback`` element, so one bad row cannot break a whole list.
    """
    try:
        return parse_xml(xml)
    except ApiError as exc:
        log.warning("stored <%s> document does not parse: %s", fallback, exc.message)
        return etree.Element(fallback)


def require_found(found: T | None, object_type: str, object_id: int) -> T:
    """Return ``found``, or raise ``Unknown <Type> ID : N`` (UNKNOWN_OBJECT) when it is None."""
    if found is None:
        raise UnknownObject.by_id(object_type, object_id)
    return found


async def id_or_name(
    cmd: Command, object_type: str, id_by_name: Callable[[str], Awaitable[int | None]]
) -> int:
    """The id named by ``id``, else by ``name`` (evQueue's ``get_id_from_query``).

    Like evQueue, an ``id`` is returned without checking that it exists; a ``name`` must exist.

    Args:
        cmd: the request.
        object_type: ``Workflow`` or ``User``, for the messages.
        id_by_name: returns the id of the object with this name, or None.

    Raises:
        InvalidInteger: ``id`` is not an integer.
        MissingParameter: neither ``id`` (non-zero) nor ``name``.
        UnknownObjectName: no object has this name.
    """
    object_id = cmd.get_int("id", 0)
    if object_id != 0:
        return object_id
    name = cmd.get_str("name", "")
    if name == "":
        raise MissingParameter("Missing 'id' or 'name' attribute")
    found = await id_by_name(name)
    if found is None:
        raise UnknownObjectName.by_name(object_type, name)
    return found
