"""One received XML API message, and evQueue's rules for reading its attributes.

Rules:

- A :class:`Command` is what :mod:`evqueue.protocol.framing` yields for each complete XML
  message: the root element name (``group``), its ``action`` attribute, all root attributes as
  strings, the ``<parameter name=… value=…/>`` children of the root, and the lxml element
  itself for handlers that need deeper content. It is immutable and checked when built.
- The typed accessors follow evQueue's ``XMLMessage`` exactly (protocol.md §3.1), reading values
  with :mod:`evqueue.attributes` (the engine reads task attributes with it too):

  - integers are read like C++ ``std::stoi`` / ``std::stoll``: leading whitespace and a sign
    are accepted, reading stops at the first non-digit (``'2abc'`` is 2), and a value with no
    leading digits or out of range gives ``Attribute 'X' has invalid integer value``;
  - booleans are ``yes``, ``no`` or any integer (non-zero is true), else
    ``Attribute 'X' has invalid boolean value``;
  - a required attribute that is absent gives ``Missing 'X' attribute``.

- An accessor is required when called without a default, optional when given one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, TypeVar, overload

from lxml import etree

from evqueue.attributes import parse_cxx_bool, parse_cxx_int
from evqueue.errors import InvalidBoolean, InvalidInteger, MissingParameter

__all__ = ["REQUIRED", "Command", "parse_cxx_int"]

T = TypeVar("T")


class _Required:
    """Type of :data:`REQUIRED`, the marker for "no default: the attribute must be there"."""

    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of the accessors meaning "raise MissingParameter when absent".
REQUIRED: Final = _Required()

#: Up to this many attributes, ``dict(element.attrib)`` beats an XPath walk.
_FEW_ATTRIBUTES = 64
_ALL_ATTRIBUTES = etree.XPath("@*")


def _qualified(name: str, nsmap: Mapping[str | None, str]) -> str:
    """Turn lxml's ``{uri}local`` into the ``prefix:local`` evQueue's DOM would report."""
    if not name.startswith("{"):
        return name
    uri, local = name[1:].split("}", 1)
    for prefix, value in nsmap.items():
        if value == uri and prefix is not None:
            return f"{prefix}:{local}"
    return local


@dataclass(frozen=True)
class Command:
    """A complete XML message received from a peer.

    Attributes:
        group: the root element name (``instance``, ``ping``, ``response`` on the client side).
        action: the root ``action`` attribute, or None.
        attrs: every root attribute, name → value (read-only).
        parameters: ``(name, value)`` of each ``<parameter>`` child of the root, in order; a
            missing ``name`` or ``value`` reads as ``""`` as in evQueue.
        element: the parsed root element (not part of equality).
    """

    group: str
    action: str | None
    attrs: Mapping[str, str]
    parameters: tuple[tuple[str, str], ...] = ()
    element: etree._Element | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.group:
            raise ValueError("a command needs a group (root element name)")
        attrs = MappingProxyType(dict(self.attrs))
        if self.action != attrs.get("action"):
            raise ValueError("action must equal attrs['action']")
        object.__setattr__(self, "attrs", attrs)
        object.__setattr__(self, "parameters", tuple((n, v) for n, v in self.parameters))

    @classmethod
    def from_element(cls, element: etree._Element) -> Command:
        """Build a command from a parsed root element.

        Args:
            element: the root element of a received message.

        Returns:
            The command, keeping ``element``.
        """
        group = element.tag
        if group.startswith("{"):
            local = etree.QName(element).localname
            group = f"{element.prefix}:{local}" if element.prefix else local
        # dict(element.attrib) looks each value up by name: quadratic in the number of
        # attributes (50,000 took 30 s), so many attributes are walked once with "@*"; a
        # usual command (a few attributes) takes the direct way, without an XPath evaluation.
        if len(element.attrib) <= _FEW_ATTRIBUTES:
            attrs = dict(element.attrib)
        else:
            attrs = {attr.attrname: str(attr) for attr in _ALL_ATTRIBUTES(element)}
        if any(name.startswith("{") for name in attrs):
            nsmap = element.nsmap
            attrs = {_qualified(name, nsmap): value for name, value in attrs.items()}
        parameters = tuple(
            (child.get("name", ""), child.get("value", ""))
            for child in element.iterchildren("parameter")
        )
        return cls(group, attrs.get("action"), attrs, parameters, element)

    @classmethod
    def build(
        cls,
        group: str,
        attrs: Mapping[str, str | int] | None = None,
        parameters: Iterable[tuple[str, str]] = (),
    ) -> Command:
        """Build a command to send (client side), with its element.

        Args:
            group: the root element name.
            attrs: root attributes; integers are written in decimal.
            parameters: ``(name, value)`` pairs written as ``<parameter>`` children.

        Returns:
            The command; ``serialize()`` gives its bytes.
        """
        element = etree.Element(group)
        for name, value in (attrs or {}).items():
            element.set(name, str(value))
        for name, value in parameters:
            etree.SubElement(element, "parameter", name=name, value=value)
        return cls.from_element(element)

    def serialize(self) -> bytes:
        """Return the message as UTF-8 XML without declaration or framing newline."""
        element = self.element
        if element is None:
            element = Command.build(self.group, self.attrs, self.parameters).element
        assert element is not None
        return etree.tostring(element, encoding="utf-8")

    # --- typed accessors (evQueue's XMLMessage rules) -----------------------------------------

    def has(self, name: str) -> bool:
        """Return whether the root attribute ``name`` is present."""
        return name in self.attrs

    def require_action(self) -> str:
        """Return ``action`` or raise ``Missing 'action' attribute`` (MISSING_PARAMETER)."""
        if self.action is None:
            raise MissingParameter.attribute("action")
        return self.action

    @overload
    def get_str(self, name: str) -> str: ...
    @overload
    def get_str(self, name: str, default: T) -> str | T: ...

    def get_str(self, name: str, default: object = REQUIRED) -> object:
        """Return a root attribute as text.

        Args:
            name: attribute name.
            default: returned when absent; when omitted the attribute is required.

        Raises:
            MissingParameter: required and absent.
        """
        value = self.attrs.get(name)
        if value is None:
            return self._absent(name, default)
        return value

    @overload
    def get_int(self, name: str) -> int: ...
    @overload
    def get_int(self, name: str, default: T) -> int | T: ...

    def get_int(self, name: str, default: object = REQUIRED) -> object:
        """Return a root attribute read as a C++ ``int`` (``std::stoi`` rules).

        Args:
            name: attribute name.
            default: returned when absent; when omitted the attribute is required.

        Raises:
            MissingParameter: required and absent.
            InvalidInteger: no leading number, or outside 32-bit range.
        """
        return self._get_integer(name, default, 32)

    @overload
    def get_long(self, name: str) -> int: ...
    @overload
    def get_long(self, name: str, default: T) -> int | T: ...

    def get_long(self, name: str, default: object = REQUIRED) -> object:
        """Return a root attribute read as a C++ ``long long`` (``std::stoll`` rules).

        Raises:
            MissingParameter: required and absent.
            InvalidInteger: no leading number, or outside 64-bit range.
        """
        return self._get_integer(name, default, 64)

    @overload
    def get_bool(self, name: str) -> bool: ...
    @overload
    def get_bool(self, name: str, default: T) -> bool | T: ...

    def get_bool(self, name: str, default: object = REQUIRED) -> object:
        """Return a root attribute read as evQueue's boolean (``yes``, ``no`` or an integer).

        Args:
            name: attribute name.
            default: returned when absent; when omitted the attribute is required.

        Raises:
            MissingParameter: required and absent.
            InvalidBoolean: any other value.
        """
        value = self.attrs.get(name)
        if value is None:
            return self._absent(name, default)
        result = parse_cxx_bool(value)
        if result is None:
            raise InvalidBoolean.attribute(name)
        return result

    def _get_integer(self, name: str, default: object, bits: int) -> object:
        value = self.attrs.get(name)
        if value is None:
            return self._absent(name, default)
        number = parse_cxx_int(value, bits)
        if number is None:
            raise InvalidInteger.attribute(name)
        return number

    @staticmethod
    def _absent(name: str, default: object) -> object:
        if default is REQUIRED:
            raise MissingParameter.attribute(name)
        return default
