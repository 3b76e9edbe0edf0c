"""Value types of configuration entries (semantics.md §6.3), checked strictly.

Rules:
- Booleans are ``yes/true/1`` or ``no/false/0`` (evQueue reads anything else as false; we refuse it,
  as evQueue's own ``Check()`` does).
- Integers are decimal or ``0x`` hex; sizes take an uppercase ``K``, ``M`` or ``G`` suffix.
- uid/gid are numbers or names looked up in the system databases.
- Every converter raises ``ValueError`` with a message meant for a person; the caller adds key,
  file and line.
"""

from __future__ import annotations

import grp
import pwd
import re
from typing import Any

from evqueue.config.keys import Key, KeyType

__all__ = ["LOG_LEVELS", "convert", "parse_bool", "parse_int", "parse_size"]

#: syslog level names → numbers (lower is more severe).
LOG_LEVELS = {
    "LOG_EMERG": 0, "LOG_ALERT": 1, "LOG_CRIT": 2, "LOG_ERR": 3,
    "LOG_WARNING": 4, "LOG_NOTICE": 5, "LOG_INFO": 6, "LOG_DEBUG": 7,
}

_TRUE = {"yes", "true", "1"}
_FALSE = {"no", "false", "0"}
_INT = re.compile(r"[+-]?(0x[0-9a-fA-F]+|[0-9]+)")
_SIZE = re.compile(r"([0-9]+)([KMG]?)")
_UNITS = {"": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}


def parse_bool(value: str) -> bool:
    """``yes``/``true``/``1`` → True, ``no``/``false``/``0`` → False."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"invalid boolean {value!r} (expected yes, true, 1, no, false or 0)")


def parse_int(value: str) -> int:
    """A decimal or ``0x`` hexadecimal integer."""
    if not _INT.fullmatch(value):
        raise ValueError(f"invalid integer {value!r}")
    return int(value, 0) if "x" in value else int(value, 10)


def parse_size(value: str) -> int:
    """An integer with an optional uppercase ``K``, ``M`` or ``G`` suffix (powers of 1024)."""
    match = _SIZE.fullmatch(value)
    if match is None:
        raise ValueError(f"invalid size {value!r} (expected a number with an optional K, M or G)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _parse_uid(value: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise ValueError(f"unknown user {value!r}") from None


def _parse_gid(value: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise ValueError(f"unknown group {value!r}") from None


def _parse_log_level(value: str) -> int:
    if value not in LOG_LEVELS:
        raise ValueError(f"invalid log level {value!r} (expected one of {', '.join(LOG_LEVELS)})")
    return LOG_LEVELS[value]


def _parse_uint(value: str) -> int:
    number = parse_int(value)
    if number < 0:
        raise ValueError(f"expected a non-negative integer, not {value!r}")
    return number


_CONVERTERS: dict[KeyType, Any] = {
    KeyType.STRING: str,
    KeyType.PATH: str,
    KeyType.IPC_KEY: str,  # resolved by the process layer (a path needs its inode)
    KeyType.BOOL: parse_bool,
    KeyType.INT: parse_int,
    KeyType.UINT: _parse_uint,
    KeyType.SIZE: parse_size,
    KeyType.UID: _parse_uid,
    KeyType.GID: _parse_gid,
    KeyType.LOG_LEVEL: _parse_log_level,
}


def convert(key: Key, value: str) -> Any:
    """Convert a raw string to the key's type and check its bounds.

    Raises:
        ValueError: with a message naming the problem (not the key).
    """
    result = _CONVERTERS[key.type](value)
    if key.choices and result not in key.choices:
        raise ValueError(f"invalid value {value!r} (expected one of {', '.join(key.choices)})")
    if key.minimum is not None and result < key.minimum:
        raise ValueError(f"value {result} is below the minimum {key.minimum}")
    if key.maximum is not None and result > key.maximum:
        raise ValueError(f"value {result} is above the maximum {key.maximum}")
    return result
