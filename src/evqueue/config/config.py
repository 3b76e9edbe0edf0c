"""The node's configuration: every key typed, substituted and checked.

Rules:
- Built in three steps, as evQueue does: defaults, then the file (later keys override earlier
  ones), then ``{VAR}`` substitution over every entry, defaults included.
- Values are converted when the Config is built, so a bad value fails start-up with the file and
  line of the entry, not later in the middle of a run.
- A Config is read-only once built.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evqueue.config.errors import ConfigError
from evqueue.config.keys import KEYS
from evqueue.config.reader import parse_text
from evqueue.config.substitute import substitute
from evqueue.config.values import convert

__all__ = ["Config", "Placeholder", "load_config"]

MASK = "****"


@dataclass(frozen=True)
class Placeholder:
    """A ``{VAR}`` left unsubstituted because ``VAR`` is not in the environment."""

    key: str
    name: str
    line: int | None


class Config(Mapping[str, Any]):
    """Typed configuration values by key name (``cfg["network.bind.port"]`` is an int)."""

    def __init__(self, raw: Mapping[str, str], *, lines: Mapping[str, int] | None = None,
                 filename: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        """Build from raw strings; unknown keys and bad values raise ConfigError.

        Args:
            raw: raw values of the keys that are set; the others take their default.
            lines: line number of each key in ``filename`` (for messages).
            filename: the file the values come from.
            environ: variables for ``{VAR}`` substitution; None means no substitution.
        """
        lines = lines or {}
        for key in raw:
            if key not in KEYS:
                raise ConfigError(f"unknown key '{key}'", filename=filename,
                                  line=lines.get(key), key=key)
        merged = {name: raw.get(name, key.default) for name, key in KEYS.items()}
        self.placeholders: list[Placeholder] = []
        if environ is not None:
            for name in merged:
                merged[name], missing = substitute(merged[name], environ)
                self.placeholders += [Placeholder(name, var, lines.get(name)) for var in missing]
        self._raw = merged
        self._values: dict[str, Any] = {}
        for name, text in merged.items():
            try:
                self._values[name] = convert(KEYS[name], text)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}", filename=filename, line=lines.get(name),
                                  key=name) from None
        self.filename = filename
        # Relative paths are relative to core.wd, itself relative to the directory the node was
        # started from: fixed now, so a later chdir(core.wd) does not move them.
        self._base = os.path.abspath(self._values["core.wd"] or os.getcwd())

    @classmethod
    def defaults(cls) -> Config:
        """Every key at its default (no substitution)."""
        return cls({})

    @classmethod
    def from_mapping(cls, values: Mapping[str, str],
                     environ: Mapping[str, str] | None = None) -> Config:
        """Build from ``{key: raw string}``; convenient for tests and embedding."""
        return cls(values, environ=environ)

    # Mapping protocol
    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def raw(self, key: str) -> str:
        """The substituted string of a key, as written (``'500K'``, not 512000)."""
        return self._raw[key]

    @property
    def node_name(self) -> str:
        """This node's name in the cluster (``cluster.node.name``)."""
        return str(self._values["cluster.node.name"])

    @property
    def wd(self) -> str:
        """``core.wd`` made absolute (the directory the node was started from when empty)."""
        return self._base

    def path(self, key: str) -> str:
        """A path value made absolute: relative paths are relative to ``core.wd``."""
        value = str(self._values[key])
        if not value:
            return value
        return os.path.normpath(os.path.join(self._base, os.path.expanduser(value)))

    def masked(self) -> dict[str, str]:
        """Raw values sorted by key, with secrets (``*.password``, URL passwords) masked.

        Every key ending in ``.password`` shows ``****``, empty ones included, as evQueue
        does: the answer does not even tell whether a password is set.
        """
        result = {}
        for key in sorted(self._raw):
            value = self._raw[key]
            if key.endswith(".password"):
                value = MASK
            elif key == "database.url":
                value = _mask_url(value)
            result[key] = value
        return result


def _mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host/db``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    if ":" not in creds:
        return url
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}@{host}"


def load_config(path: str | os.PathLike[str],
                environ: Mapping[str, str] | None = None) -> Config:
    """Read, substitute and check a configuration file.

    Args:
        path: the file.
        environ: variables for ``{VAR}``; defaults to ``os.environ``.

    Raises:
        ConfigError: unreadable file, syntax error, unknown key or bad value (with file and line).
    """
    filename = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the configuration file: {exc}", filename=filename) from None
    raw: dict[str, str] = {}
    lines: dict[str, int] = {}
    for entry in parse_text(text, Path(filename).name):
        if entry.key not in KEYS:
            raise ConfigError(f"unknown key '{entry.key}'", filename=Path(filename).name,
                              line=entry.line, key=entry.key)
        raw[entry.key] = entry.value
        lines[entry.key] = entry.line
    return Config(raw, lines=lines, filename=Path(filename).name,
                  environ=os.environ if environ is None else environ)
