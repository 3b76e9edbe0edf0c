"""Start-up checks of a configuration (evQueue's ``Check()`` plus ours).

Rules:
- Directories that the engine writes into must exist and be writable; the error names the key.
- Pairs that only make sense together (``ws.ssl.crt`` and ``ws.ssl.key``) are both set or neither.
- Warnings (not errors) are returned for things a person should fix but that do not stop a node.
"""

from __future__ import annotations

import os

from evqueue.config.config import Config
from evqueue.config.errors import ConfigError

__all__ = ["WRITABLE_DIRECTORIES", "check", "warnings"]

#: Keys naming directories the engine writes into.
WRITABLE_DIRECTORIES = (
    "processmanager.logs.directory",
    "processmanager.scripts.directory",
    "notifications.logs.directory",
    "notifications.tasks.directory",
)


def check(cfg: Config) -> None:
    """Raise ConfigError for the first problem that must stop start-up."""
    if cfg["core.wd"] and not os.path.isdir(cfg.wd):
        raise ConfigError(f"core.wd: directory '{cfg.wd}' does not exist", key="core.wd")
    for key in WRITABLE_DIRECTORIES:
        path = cfg.path(key)
        if not os.path.isdir(path):
            raise ConfigError(f"{key}: directory '{path}' does not exist", key=key)
        if not os.access(path, os.W_OK | os.X_OK):
            raise ConfigError(f"{key}: directory '{path}' is not writable", key=key)
    if bool(cfg["ws.ssl.crt"]) != bool(cfg["ws.ssl.key"]):
        raise ConfigError("ws.ssl.crt and ws.ssl.key must be set together", key="ws.ssl.crt")
    try:
        int(cfg["network.bind.path.mode"], 8)
    except ValueError:
        raise ConfigError("network.bind.path.mode: expected an octal mode such as 0660",
                          key="network.bind.path.mode") from None
    if cfg["elog.enable"] and cfg["elog.mysql.database"] == cfg["mysql.database"]:
        raise ConfigError("elog.mysql.database must differ from mysql.database",
                          key="elog.mysql.database")


def warnings(cfg: Config) -> list[str]:
    """Problems worth a warning at start-up, one sentence each."""
    result = []
    for placeholder in cfg.placeholders:
        where = f" (line {placeholder.line})" if placeholder.line else ""
        result.append(f"{placeholder.key}{where}: placeholder {{{placeholder.name}}} left as is: "
                      f"environment variable '{placeholder.name}' is not set")
    return result
