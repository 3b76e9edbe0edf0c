"""glibc's ``wordexp(3)`` through ctypes: task command lines split exactly as evQueue splits them.

evQueue splits a BINARY task's ``path`` with ``wordexp(path, &w, 0)``; calling the same libc
function is the only way to get the same words for every input (quotes, ``$VAR``, ``~user``,
globs, ``$((…))``, ``$(…)``, the characters it refuses). Rules:

- Text crosses the C boundary as bytes in the filesystem encoding with ``surrogateescape``, so a
  machine in the C locale handles non-ASCII paths, and the words come back the same way.
- Every non-zero answer becomes a :class:`WordExpError` carrying its :class:`WordExpCode`;
  ``wordfree`` is always called (glibc leaves the word list set on ``WRDE_NOSPACE``).
- ``commands=False`` passes ``WRDE_NOCMD``: the expansion is pure and in-process, and a line
  with ``$(…)`` or backticks answers ``WRDE_CMDSUB`` instead of running a shell. With
  ``commands=True`` glibc forks ``/bin/sh`` and waits for it: never do that on an event loop.
- ``$VAR``, ``~`` and ``IFS`` are read by glibc from the C ``environ``. ``environ=None`` uses the
  process's own; a mapping is installed in ``environ`` for the call only. That swap is not seen by
  ``os.environ`` and is not safe against another thread calling ``setenv`` meanwhile; nothing in
  evqueue changes its environment after start-up. A line without ``$``, a backquote or ``~``
  reads no variable (glibc splits literal text on space and tab, IFS only splits what an
  expansion gives), so it is expanded without the swap.
- Globs are matched from the current working directory.
- glibc (2.36 at least) dereferences NULL, killing the calling process, on some forms: an
  arithmetic expansion whose text expands to nothing (``$(())``, ``$(($X))`` with ``X`` unset),
  ``${X?}``, ``${#X+}``, ``$@`` inside ``$[…]``… :func:`needs_isolation` tells the lines that may
  hold such a form (conservatively, ignoring quotes): call ``wordexp`` on them only in a process
  that may die.
"""

from __future__ import annotations

import ctypes
import enum
import os
import re
from collections.abc import Mapping

__all__ = ["EXPANSION_ERROR", "WordExpCode", "WordExpError", "needs_isolation", "wordexp"]

#: evQueue's error when a task's command line cannot be expanded.
EXPANSION_ERROR = "Error expanding task command line"

#: ``WRDE_NOCMD`` from <wordexp.h>.
_WRDE_NOCMD = 1 << 2


class WordExpCode(enum.IntEnum):
    """The non-zero answers of ``wordexp`` (<wordexp.h>)."""

    NOSPACE = 1
    BADCHAR = 2
    BADVAL = 3
    CMDSUB = 4
    SYNTAX = 5


_MESSAGES = {
    WordExpCode.NOSPACE: "out of memory",
    WordExpCode.BADCHAR: "unquoted character among newline | & ; < > ( ) { }",
    WordExpCode.BADVAL: "undefined shell variable",
    WordExpCode.CMDSUB: "command substitution not allowed here",
    WordExpCode.SYNTAX: "syntax error (unbalanced quotes, parentheses or braces)",
}


class WordExpError(Exception):
    """``wordexp`` refused a line.

    Attributes:
        code: what it answered.
    """

    def __init__(self, code: WordExpCode, message: str | None = None) -> None:
        self.code = code
        super().__init__(f"WRDE_{code.name}: {message or _MESSAGES[code]}")


#: What may follow a ``$`` in a line expanded in-process: a literal ``$`` (end, quote, blank),
#: ``$NAME``, ``$0``…``$9``, ``$$`` (its second ``$`` checked on its own, as it may start
#: a form after an escaped ``\$``), ``${NAME}``, ``${#NAME}``, or ``$(`` not followed by ``(``
#: (with ``WRDE_NOCMD`` glibc stops there with ``WRDE_CMDSUB``).
_SAFE_DOLLAR = re.compile(
    r"\$(?:\Z|[\"' \t]|[A-Za-z0-9_]|(?=\$)|\{#?[A-Za-z_][A-Za-z0-9_]*\}|\((?!\())")


class _WordExp(ctypes.Structure):
    # wordexp_t: size_t we_wordc; char **we_wordv; size_t we_offs;
    _fields_ = [
        ("we_wordc", ctypes.c_size_t),
        ("we_wordv", ctypes.POINTER(ctypes.c_char_p)),
        ("we_offs", ctypes.c_size_t),
    ]


# dlopen(NULL): the libc already mapped into this process, without searching for it.
_LIBC = ctypes.CDLL(None)
_wordexp = _LIBC.wordexp
_wordexp.argtypes = [ctypes.c_char_p, ctypes.POINTER(_WordExp), ctypes.c_int]
_wordexp.restype = ctypes.c_int
_wordfree = _LIBC.wordfree
_wordfree.argtypes = [ctypes.POINTER(_WordExp)]
_wordfree.restype = None
_ENVIRON = ctypes.c_void_p.in_dll(_LIBC, "environ")


def wordexp(
    line: str, *, commands: bool = False, environ: Mapping[str, str] | None = None
) -> list[str]:
    """Split and expand ``line`` as glibc's ``wordexp`` does.

    Args:
        line: the command line.
        commands: allow command substitution (glibc then runs ``/bin/sh`` and waits for it);
            False passes ``WRDE_NOCMD``.
        environ: the variables seen by ``$VAR``, ``~`` and ``IFS``; None: the process's own.

    Returns:
        The words (possibly none).

    Raises:
        WordExpError: ``wordexp`` answered non-zero (a NUL character gives ``BADCHAR``: it
            cannot be passed to C).
    """
    data = os.fsencode(line)
    if b"\0" in data:
        raise WordExpError(WordExpCode.BADCHAR, "NUL character in the command line")
    result = _WordExp()  # zeroed: glibc restores we_wordv to NULL on most errors
    try:
        if environ is None or not _reads_environ(data):
            code = _wordexp(data, ctypes.byref(result), 0 if commands else _WRDE_NOCMD)
        else:
            code = _with_environ(environ, data, result, commands)
        if code:
            raise WordExpError(WordExpCode(code))
        return [os.fsdecode(result.we_wordv[i]) for i in range(result.we_wordc)]
    finally:
        _wordfree(ctypes.byref(result))


def needs_isolation(line: str) -> bool:
    """True when ``line`` may hold a form that crashes glibc's ``wordexp`` (module rules).

    Every ``$`` is looked at, quoted or not: a line with arithmetic (``$((…))``, ``$[…]``),
    a parameter operator (``${X:-…}``, ``${X#…}``…) or a special parameter (``$@``, ``$*``,
    ``$#``…) needs isolation, even where the form is quoted and harmless.

    Args:
        line: the command line.

    Returns:
        False when ``wordexp`` can be called on ``line`` in this process.
    """
    index = line.find("$")
    while index >= 0:
        match = _SAFE_DOLLAR.match(line, index)
        if match is None:
            return True
        index = line.find("$", match.end())
    return False


def _reads_environ(data: bytes) -> bool:
    """Whether expanding ``data`` may read a variable: ``$…``, a backquote, ``~``."""
    return b"$" in data or b"`" in data or b"~" in data


def _with_environ(environ: Mapping[str, str], data: bytes, result: _WordExp,
                  commands: bool) -> int:
    """Call ``wordexp`` with ``environ`` installed as the C environment."""
    # A name holding "=" or NUL, or a value holding NUL, cannot be written in a C environment.
    entries = [os.fsencode(name) + b"=" + os.fsencode(value) for name, value in environ.items()
               if "=" not in name and "\0" not in name + value]
    array = (ctypes.c_char_p * (len(entries) + 1))(*entries, None)
    saved = _ENVIRON.value
    _ENVIRON.value = ctypes.addressof(array)
    try:
        return _wordexp(data, ctypes.byref(result), 0 if commands else _WRDE_NOCMD)
    finally:
        _ENVIRON.value = saved

