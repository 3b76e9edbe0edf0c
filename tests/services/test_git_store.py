"""The git working copy driven through the git command line, on a local repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evqueue.config import Config
from evqueue.services.git_store import GitError, GitRepository, GitSettings


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> GitRepository:
    """A repository with no remote: pull and push have nothing to do."""
    _git("init", "-q", str(tmp_path / "wf"), cwd=tmp_path)
    return GitRepository(GitSettings(str(tmp_path / "wf"), "flows", "evq", "evq@example.org"))


def test_settings_come_from_the_git_keys(tmp_path) -> None:
    cfg = Config.from_mapping({"core.wd": str(tmp_path), "git.repository": "repo",
                               "git.workflows.subdirectory": "/wf/", "git.user": "u",
                               "git.password": "p", "git.private_key": "id_ed25519"})
    assert GitSettings.from_config(cfg) == GitSettings(
        str(tmp_path / "repo"), "wf", "evQueue", "evqueue@local", "u", "p",
        str(tmp_path / "id_ed25519"))
    assert GitSettings.from_config(Config.defaults()).repository == ""


async def test_commit_read_and_history_without_a_remote(repo: GitRepository) -> None:
    path = repo.relative("backup")
    assert path == "flows/backup.xml"
    async with repo.locked():
        await repo.pull()
        first = await repo.commit_file(path, b"<workflow/>", "first")
        await repo.push()
        assert await repo.last_commit(path) == first
        assert not await repo.is_modified(path)
        second = await repo.commit_file(path, b"<workflow a='1'/>", "")
        assert await repo.show(first, path) == b"<workflow/>"
        assert repo.read(path) == b"<workflow a='1'/>"
    root = Path(repo.settings.repository)
    assert _git("log", "--format=%H %an <%ae> %s", cwd=root).splitlines() == [
        f"{second} evq <evq@example.org> evQueue", f"{first} evq <evq@example.org> first"]
    assert repo.list_files() == ["backup"]


async def test_local_changes_show_as_modified(repo: GitRepository) -> None:
    path = repo.relative("w")
    await repo.commit_file(path, b"<workflow/>", "save")
    (Path(repo.settings.repository) / path).write_text("<workflow changed='1'/>")
    assert await repo.is_modified(path)
    with pytest.raises(GitError, match="No modifications on file"):
        await repo.commit_file(path, b"<workflow changed='1'/>", "again")


async def test_removing_a_file_commits_its_removal(repo: GitRepository) -> None:
    path = repo.relative("w")
    await repo.commit_file(path, b"<workflow/>", "save")
    await repo.remove_file(path, "remove")
    assert repo.list_files() == []
    with pytest.raises(GitError, match="Unable to read file"):
        repo.read(path)


async def test_a_missing_repository_is_an_error(tmp_path) -> None:
    repo = GitRepository(GitSettings(str(tmp_path / "nowhere")))
    with pytest.raises(GitError, match="Unable to access git repository"):
        await repo.pull()


async def test_a_failing_git_command_reports_gits_reason(repo: GitRepository) -> None:
    with pytest.raises(GitError, match="git show failed"):
        await repo.show("0" * 40, "flows/none.xml")
