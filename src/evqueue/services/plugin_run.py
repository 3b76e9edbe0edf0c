"""Notification plugins on disk and one run of a plugin (semantics.md §5.3).

Rules:

- A plugin's executable is installed as ``<notifications.tasks.directory>/<type_id>``, mode
  0755, only when its SHA-1 differs from the file's; it is written to a temporary name and
  renamed, so a plugin running at that moment keeps its old file. Files of unregistered
  plugins are left alone (the directory may be shared, ``/tmp`` by default).
- The input of a run is the JSON document evQueue writes on the plugin's stdin:
  ``{"pluginconf": {…}, "notificationconf": {…}, "instance": "<instance XML>"}``; an empty
  configuration is ``{}``.
- A run is a child process started with ``asyncio.create_subprocess_exec`` in a session of
  its own, in the plugins directory, stdout discarded, stderr captured up to a limit (the
  rest is read and dropped so the plugin never blocks on a full pipe). At the timeout its
  whole process group is killed (SIGKILL). A plugin that does not read its stdin is fine.
- Notifications are rare next to tasks, so they do not go through the forker: the engine's
  own child is cheap enough here and keeps the forker's protocol to tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from evqueue.storage.database import Database
from evqueue.storage.notifications import list_notification_type_binaries

__all__ = [
    "PluginCall",
    "PluginResult",
    "install_binary",
    "plugin_input",
    "run_plugin",
    "sync_binaries",
]

log = logging.getLogger(__name__)

_CHUNK = 65536
# After the plugin exits, how long its stderr may stay open (a stray grandchild holding it).
_STDERR_GRACE = 1.0


def plugin_input(plugin_conf: str | bytes | None, notification_conf: str | None,
                 instance_xml: str) -> bytes:
    """The JSON document a plugin reads on stdin.

    Args:
        plugin_conf: the plugin type's configuration (JSON text, may be empty).
        notification_conf: the notification's parameters (JSON text, may be empty).
        instance_xml: the ended instance, serialized.
    """
    document = {
        "pluginconf": _json_object(plugin_conf),
        "notificationconf": _json_object(notification_conf),
        "instance": instance_xml,
    }
    return json.dumps(document).encode("utf-8")


def _json_object(text: str | bytes | None) -> object:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:  # the API checks JSON on input; a row written by another tool may not be
        log.warning("invalid JSON configuration passed to a notification as {}")
        return {}


def install_binary(directory: str, type_id: int, content: bytes) -> bool:
    """Install one plugin executable; returns False when the file was already up to date."""
    path = os.path.join(directory, str(type_id))
    try:
        with open(path, "rb") as current:
            same = hashlib.sha1(current.read()).digest() == hashlib.sha1(content).digest()
        if same and os.stat(path).st_mode & 0o777 == 0o755:
            return False
    except FileNotFoundError:
        pass
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "wb") as out:
        out.write(content)
    os.chmod(temporary, 0o755)
    os.replace(temporary, path)
    return True


async def sync_binaries(db: Database, directory: str) -> list[int]:
    """Install every registered plugin executable; returns the type ids written."""
    written = []
    for binary in await list_notification_type_binaries(db):
        try:
            if install_binary(directory, binary.type_id, binary.content):
                written.append(binary.type_id)
        except OSError as exc:
            log.error("cannot install notification plugin %s (%d) in %s: %s",
                      binary.name, binary.type_id, directory, exc)
    if written:
        log.log(25, "notification plugins installed: %s", ", ".join(map(str, written)))
    return written


@dataclass(frozen=True)
class PluginCall:
    """One run of a plugin executable."""

    path: str
    arguments: Sequence[str]
    stdin: bytes
    cwd: str
    timeout: float
    max_stderr: int


@dataclass(frozen=True)
class PluginResult:
    """How a run ended: ``returncode`` is None when it was killed at the timeout."""

    pid: int
    returncode: int | None
    timed_out: bool
    stderr: str

    @property
    def ok(self) -> bool:
        """True for a run that exited 0 within the timeout."""
        return not self.timed_out and self.returncode == 0


async def run_plugin(call: PluginCall) -> PluginResult:
    """Run a plugin to its end or its timeout.

    Raises:
        OSError: the executable could not be started.
    """
    process = await asyncio.create_subprocess_exec(
        call.path, *call.arguments, cwd=call.cwd, start_new_session=True,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stderr is not None
    loop = asyncio.get_running_loop()
    feeding = loop.create_task(_feed(process.stdin, call.stdin))
    reading = loop.create_task(_read_bounded(process.stderr, call.max_stderr))
    timed_out = False
    try:
        await asyncio.wait_for(process.wait(), call.timeout)
    except TimeoutError:
        timed_out = True
        _kill_group(process.pid)
        await process.wait()
    finally:
        feeding.cancel()
    try:
        stderr = await asyncio.wait_for(reading, _STDERR_GRACE)
    except TimeoutError:
        stderr = b""
    return PluginResult(process.pid, None if timed_out else process.returncode, timed_out,
                        stderr.decode("utf-8", errors="replace"))


async def _feed(stream: asyncio.StreamWriter, data: bytes) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data)
        await stream.drain()
        stream.close()


async def _read_bounded(stream: asyncio.StreamReader, limit: int) -> bytes:
    kept = bytearray()
    while chunk := await stream.read(_CHUNK):
        if len(kept) < limit:
            kept += chunk[:limit - len(kept)]
    return bytes(kept)


def _kill_group(pid: int) -> None:
    # The plugin leads its own session: its group id is its pid.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
