"""``<filesystem action="list" path=…/>``: entries of a directory under the tasks directory.

Rules (protocol.md §4.5, evQueue's ``Filesystem``):

- ``path`` is relative to ``processmanager.tasks.directory``, prefixed as a task path is
  (``evqueue.process.spec``); a relative directory is taken from ``core.wd``, the node's working
  directory, as in evQueue. Unlike evQueue, the listed directory must lie inside it once ``..``
  and symbolic links are resolved (an absolute path is accepted only if it does), and the
  command is admin only: it shows the engine host's files.
- Entries whose name starts with ``.`` are skipped; each other entry is
  ``<entry name type="directory|file|unknown"/>`` (a symbolic link is a ``file``, as in evQueue),
  sorted by name.
- A directory that cannot be read is "Unable to open directory X" (no code, as in evQueue).
"""

from __future__ import annotations

import os

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.process.spec import configured_tasks_directory, resolve_task_path
from evqueue.protocol import ApiError, Command, InvalidParameter, Response

__all__ = ["resolve", "routes"]

routes = CommandTable()
routes.admin_only("filesystem")


def resolve(base: str, path: str) -> str:
    """The real directory ``path`` names under ``base``.

    Raises:
        InvalidParameter: it lies outside ``base``.
    """
    root = os.path.realpath(base)
    target = os.path.realpath(resolve_task_path(path, root))
    if os.path.commonpath([root, target]) != root:
        raise InvalidParameter("Path is outside processmanager.tasks.directory")
    return target


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "file"
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "unknown"


@routes.command("filesystem", "list")
async def filesystem_list(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """List a directory under ``processmanager.tasks.directory``."""
    base = os.path.join(ctx.cfg.wd, configured_tasks_directory(ctx.cfg))
    directory = resolve(base, cmd.get_str("path"))
    try:
        with os.scandir(directory) as scan:
            entries = sorted((e for e in scan if not e.name.startswith(".")),
                             key=lambda e: e.name)
            payload = [etree.Element("entry", name=e.name, type=_kind(e)) for e in entries]
    except OSError:
        raise ApiError(f"Unable to open directory {directory}") from None
    return Response.success(payload=payload)
