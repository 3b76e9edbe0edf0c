"""evQueue's reading of integer and boolean attribute values (``XMLUtils::GetAttributeInt`` and
``GetAttributeBool``), for every XML it reads: API commands and task attributes alike.

Rules:
- An integer is read like C++ ``std::stoi`` (32 bits) or ``std::stoll`` (64 bits): leading
  whitespace and a sign are accepted, reading stops at the first non-digit (``'2abc'`` is 2);
  no leading digit, or a value out of range, is no integer.
- A boolean is ``yes``, ``no`` or such an integer (non-zero is true); ``true``, ``false`` and
  anything else are no boolean.
- The functions return None where evQueue throws; the caller raises its own error
  (``Attribute 'X' has invalid integer value`` / ``… invalid boolean value``).

This module sits at the package root with no layer, like :mod:`evqueue.errors`: the protocol
and the engine both import it.
"""

from __future__ import annotations

import re

__all__ = ["parse_cxx_bool", "parse_cxx_int"]

# What std::stoi accepts before giving up: C isspace(), an optional sign, ASCII decimal digits.
_CXX_INT = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def parse_cxx_int(text: str, bits: int = 32) -> int | None:
    """Read an integer the way C++ ``std::stoi`` (32 bits) or ``std::stoll`` (64) does.

    Args:
        text: the attribute value.
        bits: 32 or 64, the width of the C++ integer type.

    Returns:
        The value, or None where the C++ function would throw (no leading number, or out of
        range).
    """
    match = _CXX_INT.match(text)
    if match is None:
        return None
    value = int(match.group(1))
    low, high = _INT32 if bits == 32 else _INT64
    return value if low <= value <= high else None


def parse_cxx_bool(text: str) -> bool | None:
    """Read a boolean the way evQueue's ``GetAttributeBool`` does.

    Args:
        text: the attribute value.

    Returns:
        ``yes`` → True, ``no`` → False, an integer → whether it is non-zero; None otherwise.
    """
    if text == "yes":
        return True
    if text == "no":
        return False
    number = parse_cxx_int(text)
    return None if number is None else number != 0
