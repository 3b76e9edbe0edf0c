"""Configuration errors; each knows the file and line it comes from, when there is one."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(Exception):
    """A configuration file or value is wrong.

    ``str(error)`` reads like a compiler message: ``evqueue.conf:12: unknown key 'x'``.
    """

    def __init__(self, message: str, *, filename: str | None = None,
                 line: int | None = None, key: str | None = None) -> None:
        self.message = message
        self.filename = filename
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.filename is not None and self.line is not None:
            return f"{self.filename}:{self.line}: {self.message}"
        if self.filename is not None:
            return f"{self.filename}: {self.message}"
        return self.message
