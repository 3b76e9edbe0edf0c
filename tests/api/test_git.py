"""The ``git`` command group on a real clone of a temporary bare repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lxml import etree

from evqueue.api import git, workflow
from evqueue.api.context import Services
from evqueue.api.git import open_repository, served_groups, wrap_workflow
from evqueue.config import Config
from evqueue.engine import EventBus, EventType
from evqueue.storage import workflows as store
from tests.api.helpers import Api, b64, plain_user, wf_xml


def run_git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", "-c", "user.name=tester", "-c", "user.email=t@example.org",
                           "-c", "init.defaultBranch=main", *args], cwd=cwd,
                          capture_output=True, text=True, check=True)
    return done.stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """A bare repository with one commit, as a team's shared remote."""
    bare = tmp_path / "remote.git"
    run_git("init", "--bare", str(bare), cwd=tmp_path)
    seed = tmp_path / "seed"
    run_git("clone", str(bare), str(seed), cwd=tmp_path)
    (seed / "README").write_text("workflows\n")
    run_git("add", "README", cwd=seed)
    run_git("commit", "-m", "start", cwd=seed)
    run_git("push", "origin", "HEAD", cwd=seed)
    return bare


@pytest.fixture
async def api(db, remote: Path, tmp_path: Path) -> Api:
    clone = tmp_path / "clone"
    run_git("clone", str(remote), str(clone), cwd=tmp_path)
    cfg = Config.from_mapping({"git.repository": str(clone),
                               "git.signature.name": "evq", "git.signature.email": "e@q"})
    api = Api(db, [git, workflow], cfg=cfg)
    bus = EventBus()
    api.ctx.services = Services(git=open_repository(cfg), events=bus)
    api.ids["events"] = []  # type: ignore[assignment]
    bus.subscribe(lambda e: api.ids["events"].append(e.type))  # type: ignore[attr-defined]
    await api.ok(f"<workflow action='create' name='backup' group='ops' comment='nightly' "
                 f"content='{b64(wf_xml())}'/>")
    api.changed.clear()
    api.ids["events"].clear()  # type: ignore[attr-defined]
    return api


def _clone(api: Api) -> Path:
    return Path(api.ctx.cfg["git.repository"])


async def test_save_change_and_load_back_restores_the_saved_version(api: Api, db,
                                                                    remote: Path) -> None:
    saved = await store.get_workflow_by_name(db, "backup")
    await api.ok("<git action='save_workflow' name='backup' commit_log='first save'/>")
    commit = (await store.get_workflow_by_name(db, "backup")).lastcommit
    file = _clone(api) / "workflows" / "backup.xml"
    assert file.read_text() == wrap_workflow(saved)
    assert file.read_text().startswith('<workflow group="ops" comment="nightly"><workflow>')
    assert run_git("log", "-1", "--format=%H %an <%ae> %s", cwd=remote).strip() == (
        f"{commit} evq <e@q> first save")  # pushed, signed
    assert api.changed == ["workflows"]

    changed = b64(wf_xml(extra=' name="renamed"'))
    await api.ok(f"<workflow action='edit' name='backup' group='dev' comment='changed' "
                 f"content='{changed}'/>")
    [entry] = (await api.ok("<git action='list_workflows'/>"))
    assert dict(entry.attrib) == {"name": "backup", "lastcommit": commit, "modified": "1"}

    await api.ok("<git action='load_workflow' name='backup'/>")
    loaded = await store.get_workflow_by_name(db, "backup")
    assert (loaded.xml, loaded.group, loaded.comment, loaded.lastcommit) == (
        saved.xml, saved.group, saved.comment, commit)
    [entry] = (await api.ok("<git action='list_workflows'/>"))
    assert entry.get("modified") == "0"
    assert api.ids["events"] == [EventType.GIT_SAVED, EventType.WORKFLOW_MODIFIED,
                                  EventType.GIT_LOADED]


async def test_load_creates_a_workflow_that_only_exists_in_the_repository(api: Api, db) -> None:
    await api.ok("<git action='save_workflow' name='backup' commit_log='save'/>")
    await api.ok("<workflow action='delete' name='backup'/>")
    await api.ok("<git action='load_workflow' name='backup'/>")
    row = await store.get_workflow_by_name(db, "backup")
    assert (row.group, row.comment) == ("ops", "nightly")
    assert row.lastcommit == run_git("rev-parse", "HEAD", cwd=_clone(api)).strip()


async def test_get_workflow_returns_the_file(api: Api) -> None:
    await api.ok("<git action='save_workflow' name='backup' commit_log='save'/>")
    [root] = await api.ok("<git action='get_workflow' name='backup'/>")
    assert (root.tag, root.get("group"), root[0].tag) == ("workflow", "ops", "workflow")


async def test_saving_an_unchanged_workflow_is_refused(api: Api) -> None:
    await api.ok("<git action='save_workflow' name='backup' commit_log='save'/>")
    await api.ko("<git action='save_workflow' name='backup' commit_log='again'/>", None,
                 "No modifications on file, nothing to commit")


async def test_a_newer_commit_in_the_remote_protects_it_unless_forced(api: Api, db, remote,
                                                                      tmp_path) -> None:
    await api.ok("<git action='save_workflow' name='backup' commit_log='save'/>")
    other = tmp_path / "colleague"
    run_git("clone", str(remote), str(other), cwd=tmp_path)
    (other / "workflows" / "backup.xml").write_text(
        f'<workflow group="x" comment="y">{wf_xml()}</workflow>')
    run_git("commit", "-am", "colleague's change", cwd=other)
    run_git("push", cwd=other)
    await api.ok(f"<workflow action='edit' name='backup' group='mine' "
                 f"content='{b64(wf_xml())}'/>")
    await api.ko("<git action='save_workflow' name='backup' commit_log='mine'/>", None,
                 "Database is at a different commit than repository. "
                 "This could overwrite unwanted data.")
    await api.ok("<git action='save_workflow' name='backup' commit_log='mine' force='yes'/>")
    assert 'group="mine"' in run_git("show", "HEAD:workflows/backup.xml", cwd=remote)


async def test_a_file_with_local_modifications_is_not_loaded(api: Api) -> None:
    await api.ok("<git action='save_workflow' name='backup' commit_log='save'/>")
    (_clone(api) / "workflows" / "backup.xml").write_text("<workflow/>")
    await api.ko("<git action='load_workflow' name='backup'/>", None,
                 "File has local modifications, discarding")


async def test_remove_unbinds_the_workflow(api: Api, db, remote: Path) -> None:
    await api.ok("<git action='save_workflow' name='backup' commit_log='save'/>")
    await api.ok("<git action='remove_workflow' name='backup' commit_log='gone'/>")
    assert not (_clone(api) / "workflows" / "backup.xml").exists()
    assert (await store.get_workflow_by_name(db, "backup")).lastcommit is None
    assert run_git("log", "-1", "--format=%s", cwd=remote).strip() == "gone"
    assert list(await api.ok("<git action='list_workflows'/>")) == []


async def test_pull_brings_the_remote_commits(api: Api, remote: Path, tmp_path: Path) -> None:
    other = tmp_path / "colleague"
    run_git("clone", str(remote), str(other), cwd=tmp_path)
    (other / "workflows").mkdir()
    (other / "workflows" / "fresh.xml").write_text(
        f'<workflow group="" comment="">{wf_xml()}</workflow>')
    run_git("add", ".", cwd=other)
    run_git("commit", "-m", "fresh", cwd=other)
    run_git("push", cwd=other)
    await api.ok("<git action='pull'/>")
    names = [e.get("name") for e in await api.ok("<git action='list_workflows'/>")]
    assert names == ["fresh"]
    assert api.ids["events"] == [EventType.GIT_PULLED]


async def test_an_invalid_definition_in_the_repository_is_refused(api: Api, tmp_path) -> None:
    clone = _clone(api)
    (clone / "workflows").mkdir()
    (clone / "workflows" / "bad.xml").write_text(
        '<workflow group="" comment=""><workflow><nothing/></workflow></workflow>')
    run_git("add", ".", cwd=clone)
    run_git("commit", "-m", "bad", cwd=clone)
    root = await api.call("<git action='load_workflow' name='bad'/>")
    assert root.get("status") == "KO" and root.get("error-code") == "INVALID_XML"


async def test_names_are_checked_and_users_refused(api: Api) -> None:
    root = await api.call("<git action='get_workflow' name='../../etc/passwd'/>")
    assert root.get("status") == "KO"
    await api.ko("<git action='pull'/>", "INSUFFICIENT_RIGHTS", as_user=plain_user())
    await api.ko("<git action='save_workflow' name='nope' commit_log='x'/>", "UKNOWN_OBJECT",
                 "Unknown Workflow name : nope")


async def test_without_a_repository_every_action_is_refused(db) -> None:
    api = Api(db, [git])
    assert open_repository(api.ctx.cfg) is None
    for command in ("<git action='pull'/>", "<git action='list_workflows'/>",
                    "<git action='get_workflow' name='w'/>"):
        await api.ko(command, None, "No git repository is configured, this feature is disabled")


def test_git_is_announced_only_with_a_repository() -> None:
    groups = ["git", "ping"]
    assert served_groups(groups, Config.defaults()) == ["ping"]
    assert served_groups(groups, Config.from_mapping({"git.repository": "/srv/wf"})) == groups


def test_the_wrapper_is_evqueues_file_format() -> None:
    row = store.WorkflowRow(1, "w", "<workflow><subjobs/></workflow>", "g", 'a "c"', None)
    assert wrap_workflow(row) == (
        '<workflow group="g" comment="a &quot;c&quot;"><workflow><subjobs/></workflow>'
        '</workflow>')
    assert etree.fromstring(wrap_workflow(row))[0].tag == "workflow"
