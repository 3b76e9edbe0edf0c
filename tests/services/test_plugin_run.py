"""Notification plugins on disk and single runs of real plugin processes."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from evqueue.services.plugin_run import (
    PluginCall,
    install_binary,
    plugin_input,
    run_plugin,
    sync_binaries,
)
from evqueue.storage.notifications import create_notification_type


def _script(directory: Path, name: str, body: str) -> str:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def _call(path: str, cwd: Path, stdin: bytes = b"{}", timeout: float = 10.0,
          max_stderr: int = 1024, arguments: tuple[str, ...] = ("42", "0", "/run/evq.sock")):
    return PluginCall(path, arguments, stdin, str(cwd), timeout, max_stderr)


def test_the_input_is_evqueues_json_document() -> None:
    data = plugin_input(b'{"host": "smtp"}', '{"to": "ops@example.org"}', '<workflow id="3"/>')
    assert list(json.loads(data).items()) == [
        ("pluginconf", {"host": "smtp"}),
        ("notificationconf", {"to": "ops@example.org"}),
        ("instance", '<workflow id="3"/>'),
    ]


def test_empty_or_broken_configurations_are_empty_objects() -> None:
    document = json.loads(plugin_input(b"", "{oops", "<workflow/>"))
    assert document["pluginconf"] == {} and document["notificationconf"] == {}
    assert json.loads(plugin_input(None, None, "<w/>"))["pluginconf"] == {}


def test_a_binary_is_installed_executable_and_only_rewritten_when_it_changes(tmp_path) -> None:
    assert install_binary(str(tmp_path), 7, b"#!/bin/sh\nexit 0\n")
    path = tmp_path / "7"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    inode = path.stat().st_ino
    assert not install_binary(str(tmp_path), 7, b"#!/bin/sh\nexit 0\n")
    assert path.stat().st_ino == inode
    assert install_binary(str(tmp_path), 7, b"#!/bin/sh\nexit 1\n")
    assert path.read_bytes() == b"#!/bin/sh\nexit 1\n"
    assert path.stat().st_ino != inode  # replaced, so a run in progress keeps the old file
    assert sorted(os.listdir(tmp_path)) == ["7"]


async def test_sync_installs_every_registered_plugin(db, tmp_path) -> None:
    first = await create_notification_type(db, "a", "", "<plugin/>", b"A")
    second = await create_notification_type(db, "b", "", "<plugin/>", b"B")
    await create_notification_type(db, "nobinary", "", "<plugin/>", None)
    assert await sync_binaries(db, str(tmp_path)) == [first, second]
    assert (tmp_path / str(first)).read_bytes() == b"A"
    assert await sync_binaries(db, str(tmp_path)) == []


async def test_a_run_gets_its_arguments_stdin_and_directory(tmp_path) -> None:
    plugin = _script(tmp_path, "p", 'echo "$@" > args; pwd > cwd; cat > stdin\n')
    work = tmp_path / "work"
    work.mkdir()
    result = await run_plugin(_call(plugin, work, stdin=b'{"x": 1}'))
    assert result.ok and result.returncode == 0 and result.pid > 0
    assert (work / "args").read_text() == "42 0 /run/evq.sock\n"
    assert (work / "cwd").read_text().strip() == str(work)
    assert (work / "stdin").read_bytes() == b'{"x": 1}'


async def test_a_failed_run_reports_its_status_and_bounded_stderr(tmp_path) -> None:
    plugin = _script(tmp_path, "p", "head -c 5000 /dev/zero | tr '\\0' e >&2; exit 3\n")
    result = await run_plugin(_call(plugin, tmp_path, max_stderr=100))
    assert not result.ok and result.returncode == 3 and not result.timed_out
    assert result.stderr == "e" * 100


async def test_a_hanging_run_is_killed_at_the_timeout_with_its_children(tmp_path) -> None:
    plugin = _script(tmp_path, "p", "sleep 30 & echo $! > child; echo started >&2; wait\n")
    result = await run_plugin(_call(plugin, tmp_path, timeout=0.5))
    assert result.timed_out and result.returncode is None and not result.ok
    assert result.stderr == "started\n"
    child = int((tmp_path / "child").read_text())
    assert await _dies(child)


async def _dies(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` is gone or a zombie (an orphan waits for init to reap it)."""
    for _ in range(int(timeout / 0.01)):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):  # gone, even while being read
            return True
        if state == "Z":
            return True
        await asyncio.sleep(0.01)
    return False


async def test_a_plugin_that_ignores_a_large_stdin_still_ends(tmp_path) -> None:
    plugin = _script(tmp_path, "p", "exit 0\n")
    result = await run_plugin(_call(plugin, tmp_path, stdin=b"x" * 1_000_000))
    assert result.ok


async def test_a_plugin_that_cannot_run_raises(tmp_path) -> None:
    (tmp_path / "not-executable").write_text("#!/bin/sh\n")
    with pytest.raises(OSError):
        await run_plugin(_call(str(tmp_path / "not-executable"), tmp_path))
    with pytest.raises(OSError):
        await run_plugin(_call(str(tmp_path / "missing"), tmp_path))
