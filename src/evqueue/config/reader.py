"""The configuration file syntax (semantics.md §6.1).

Rules:
- One ``key = value`` per line; blank lines and ``#`` comment lines are skipped; a trailing CR is
  dropped; lines are at most 4095 characters.
- Keys are ``[A-Za-z0-9._]``; an unquoted value ends at a blank or ``#``; after the value only
  blanks or a comment may follow.
- A quoted value (``'…'`` or ``"…"``) ends at the same quote and keeps every other character,
  ``#`` and tabs included (evQueue ends it at ``#`` or a tab: a bug we do not copy).
- A later occurrence of a key overrides an earlier one.

The reader only splits lines; whether a key exists is the caller's business (it knows the table).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evqueue.config.errors import ConfigError

__all__ = ["Entry", "MAX_LINE_LENGTH", "parse_text"]

MAX_LINE_LENGTH = 4095

_KEY = re.compile(r"[A-Za-z0-9._]+")
_BLANKS = " \t"


@dataclass(frozen=True)
class Entry:
    """One ``key = value`` line of a configuration file."""

    key: str
    value: str
    line: int


def parse_text(text: str, filename: str = "<config>") -> list[Entry]:
    """Split a configuration file into entries, in file order.

    Args:
        text: the whole file.
        filename: used in error messages.

    Returns:
        The entries; a key may appear several times (the last one wins when applied).

    Raises:
        ConfigError: on the first syntax error, with file and line.
    """
    entries = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if len(line) > MAX_LINE_LENGTH:
            raise ConfigError(f"line longer than {MAX_LINE_LENGTH} characters",
                              filename=filename, line=number)
        entry = _parse_line(line.lstrip(_BLANKS), filename, number)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_line(line: str, filename: str, number: int) -> Entry | None:
    if not line or line.startswith("#"):
        return None

    def fail(message: str) -> ConfigError:
        return ConfigError(message, filename=filename, line=number)

    match = _KEY.match(line)
    if match is None:
        raise fail(f"invalid character {line[0]!r} at the start of a key")
    key = match.group()
    rest = line[match.end():].lstrip(_BLANKS)
    if not rest or rest.startswith("#"):
        raise fail(f"missing value for key '{key}'")
    if not rest.startswith("="):
        raise fail(f"expected '=' after key '{key}'")
    rest = rest[1:].lstrip(_BLANKS)
    if not rest or rest.startswith("#"):
        raise fail(f"missing value for key '{key}'")
    value, rest = _split_value(rest, key, fail)
    rest = rest.lstrip(_BLANKS)
    if rest and not rest.startswith("#"):
        raise fail(f"garbage data after the value of '{key}': {rest!r}")
    return Entry(key, value, number)


def _split_value(text: str, key: str, fail) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    quote = text[0]
    if quote in "'\"":
        end = text.find(quote, 1)
        if end < 0:
            raise fail(f"missing closing quote {quote} in the value of '{key}'")
        return text[1:end], text[end + 1:]
    end = len(text)
    for i, char in enumerate(text):
        if char in " \t#":
            end = i
            break
    return text[:end], text[end:]
