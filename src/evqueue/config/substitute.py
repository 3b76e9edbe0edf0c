"""``{VAR}`` environment substitution (semantics.md §6.2).

Rules:
- A placeholder is ``{`` letters-or-underscore ``}``: no digits, so ``{VAR1}`` is never one.
- A placeholder whose variable exists is replaced by its value; a missing one stays verbatim
  (evQueue's rule) and is reported to the caller, who warns about it.
- Substitution runs on every entry, defaults included, and only once: a value that itself contains
  ``{X}`` is not substituted again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["PLACEHOLDER", "substitute"]

PLACEHOLDER = re.compile(r"\{([a-zA-Z_]+)\}")


def substitute(value: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``{VAR}`` placeholders from ``environ``.

    Returns:
        The new value and the names of placeholders left unsubstituted (in order, once each).
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in environ:
            return environ[name]
        if name not in missing:
            missing.append(name)
        return match.group(0)

    return PLACEHOLDER.sub(replace, value), missing
