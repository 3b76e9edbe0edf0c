"""The ``git`` command group: workflows saved to and loaded from a git repository.

Rules (semantics.md §5.8, protocol.md §4.5):

- ADMIN only. Every action fails with ``No git repository is configured, this feature is
  disabled`` when ``git.repository`` is unset; ``git`` is announced in the greeting (and in
  ``ping``'s ``git-support``) only when it is set (:func:`served_groups`).
- A file holds evQueue's wrapper of a workflow: ``<workflow group=… comment=…><workflow>…
  definition…</workflow></workflow>`` (:func:`wrap_workflow`).
- ``save_workflow name commit_log [force]``: pull; unless ``force``, the workflow's
  ``lastcommit`` must be the file's last commit; write the file (refused when unchanged),
  commit, push, and store the commit id as the workflow's ``lastcommit``.
- ``load_workflow name``: refused when the file has local modifications; the definition is
  checked as ``workflow create`` checks it; the workflow is created or updated and its
  ``lastcommit`` set to the file's last commit.
- ``get_workflow name``: the file's root element. ``list_workflows``: ``<entry name
  lastcommit [modified="0|1"]/>`` per file, ``modified`` when a workflow of that name is bound
  to a commit: whether its definition differs from the file at that commit (both normalized).
- ``remove_workflow name commit_log``: pull, remove the file, commit, push; the workflow (if
  any) is unbound (``lastcommit`` cleared). ``pull``: pull.
- Events GIT_PULLED, GIT_SAVED, GIT_LOADED, GIT_REMOVED (published as
  :mod:`evqueue.api.change_events` declares); changes to workflows report module ``workflows``.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from evqueue.api.context import ApiContext
from evqueue.api.session import Session
from evqueue.api.table import CommandTable
from evqueue.config import Config
from evqueue.model.document import parse_xml
from evqueue.model.workflow import WorkflowDefinition, validate_name
from evqueue.model.xpath import check as check_xpath
from evqueue.protocol import ApiError, Command, Response, UnknownObjectName
from evqueue.services.git_store import GitError, GitRepository, GitSettings
from evqueue.storage import workflows as store
from evqueue.storage.workflows import WorkflowRow

__all__ = [
    "NOT_CONFIGURED",
    "open_repository",
    "routes",
    "served_groups",
    "unwrap_workflow",
    "wrap_workflow",
]

routes = CommandTable()
routes.admin_only("git")

#: evQueue's message when ``git.repository`` is unset.
NOT_CONFIGURED = "No git repository is configured, this feature is disabled"


def served_groups(groups: Iterable[str], cfg: Config) -> list[str]:
    """The command groups to announce: ``git`` only when a repository is configured."""
    return [g for g in groups if g != "git" or cfg["git.repository"]]


def open_repository(cfg: Config) -> GitRepository | None:
    """The repository of ``git.repository`` for ``ctx.services.git``; None when unset."""
    settings = GitSettings.from_config(cfg)
    return GitRepository(settings) if settings.repository else None


def wrap_workflow(row: WorkflowRow) -> str:
    """evQueue's file format of a workflow (its ``SaveToXML``)."""
    outer = etree.Element("workflow")
    outer.append(parse_xml(row.xml))
    outer.set("group", row.group)
    outer.set("comment", row.comment)
    return etree.tostring(outer, encoding="unicode")


def unwrap_workflow(data: bytes) -> tuple[str, str, str]:
    """(definition XML, group, comment) of a workflow file.

    Raises:
        InvalidXml: the file is not XML.
        ApiError: it does not wrap a ``<workflow>``.
    """
    root = parse_xml(data)
    inner = next(iter(root.iterchildren(tag="workflow")), None)
    if root.tag != "workflow" or inner is None:
        raise ApiError("Invalid workflow file, expected <workflow><workflow>…</workflow>")
    return etree.tostring(inner, encoding="unicode"), root.get("group", ""), \
        root.get("comment", "")


def _normalized(xml: str | bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.tostring(etree.fromstring(xml, parser), method="c14n")


def _repository(ctx: ApiContext) -> GitRepository:
    repo = ctx.services.git
    if repo is None:
        raise ApiError(NOT_CONFIGURED)
    return repo


async def _workflow(ctx: ApiContext, name: str) -> WorkflowRow:
    row = await store.get_workflow_by_name(ctx.db, name)
    if row is None or row.name != name:
        raise UnknownObjectName.by_name("Workflow", name)
    return row


def _name(cmd: Command) -> str:
    name = cmd.get_str("name")
    validate_name(name)  # also keeps the file inside the subdirectory
    return name


@routes.command("git", "pull")
async def pull(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Pull the repository."""
    repo = _repository(ctx)
    try:
        async with repo.locked():
            await repo.pull()
    except GitError as exc:
        raise ApiError(str(exc)) from None
    return Response.success()


@routes.command("git", "save_workflow", modifies=True)
async def save_workflow(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Commit a workflow to the repository and bind it to the new commit."""
    repo = _repository(ctx)
    name = _name(cmd)
    commit_log, force = cmd.get_str("commit_log", ""), cmd.get_bool("force", False)
    row = await _workflow(ctx, name)
    path = repo.relative(name)
    try:
        async with repo.locked():
            await repo.pull()
            if not force and row.lastcommit and row.lastcommit != await repo.last_commit(path):
                raise GitError("Database is at a different commit than repository. "
                               "This could overwrite unwanted data.")
            commit = await repo.commit_file(path, wrap_workflow(row).encode("utf-8"),
                                            commit_log)
            await repo.push()
    except GitError as exc:
        raise ApiError(str(exc)) from None
    await store.set_workflow_lastcommit(ctx.db, row.id, commit)
    await ctx.changed("workflows")
    return Response.success()


def _checked(xml: str) -> str:
    return WorkflowDefinition.parse(xml, check_xpath=check_xpath).to_xml()


@routes.command("git", "load_workflow", modifies=True)
async def load_workflow(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Create or update a workflow from its file, bound to the file's last commit."""
    repo = _repository(ctx)
    name = _name(cmd)
    path = repo.relative(name)
    try:
        async with repo.locked():
            if await repo.is_modified(path):
                raise GitError("File has local modifications, discarding")
            data = repo.read(path)
            commit = await repo.last_commit(path)
    except GitError as exc:
        raise ApiError(str(exc)) from None
    if not commit:
        raise ApiError("Unable to get file last commit ID, maybe you need to commit first ?")
    xml, group, comment = unwrap_workflow(data)
    xml = _checked(xml)
    existing = await store.get_workflow_by_name(ctx.db, name)
    if existing is not None and existing.name == name:
        await store.update_workflow(ctx.db, existing.id, name, xml, group, comment)
        await store.set_workflow_lastcommit(ctx.db, existing.id, commit)
    else:
        await store.create_workflow(ctx.db, name, xml, group, comment, lastcommit=commit)
    await ctx.changed("workflows")
    return Response.success()


@routes.command("git", "get_workflow")
async def get_workflow(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """The file of a workflow, as stored in the repository."""
    repo = _repository(ctx)
    name = _name(cmd)
    try:
        async with repo.locked():
            if await repo.is_modified(repo.relative(name)):
                raise GitError("File has local modifications, discarding")
            data = repo.read(repo.relative(name))
    except GitError as exc:
        raise ApiError(str(exc)) from None
    return Response.success(payload=[parse_xml(data)])


@routes.command("git", "remove_workflow", modifies=True)
async def remove_workflow(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """Remove a workflow's file from the repository (the workflow itself stays)."""
    repo = _repository(ctx)
    name = _name(cmd)
    commit_log = cmd.get_str("commit_log", "")
    try:
        async with repo.locked():
            await repo.pull()
            await repo.remove_file(repo.relative(name), commit_log)
            await repo.push()
    except GitError as exc:
        raise ApiError(str(exc)) from None
    row = await store.get_workflow_by_name(ctx.db, name)
    if row is not None and row.name == name:
        await store.set_workflow_lastcommit(ctx.db, row.id, None)
        await ctx.changed("workflows")
    return Response.success()


async def _modified(repo: GitRepository, row: WorkflowRow | None) -> str | None:
    if row is None or not row.lastcommit:
        return None
    try:
        saved = await repo.show(row.lastcommit, repo.relative(row.name))
        return "1" if _normalized(saved) != _normalized(wrap_workflow(row)) else "0"
    except (GitError, etree.XMLSyntaxError):
        return "1"  # the commit or the file is gone: the binding no longer holds


@routes.command("git", "list_workflows")
async def list_workflows(ctx: ApiContext, session: Session, cmd: Command) -> Response:
    """``<entry name lastcommit [modified]/>`` per workflow file."""
    repo = _repository(ctx)
    rows = {row.name: row for row in await store.list_workflows(ctx.db)}
    entries = []
    try:
        async with repo.locked():
            for name in repo.list_files():
                entry = etree.Element("entry", name=name,
                                      lastcommit=await repo.last_commit(repo.relative(name)))
                modified = await _modified(repo, rows.get(name))
                if modified is not None:
                    entry.set("modified", modified)
                entries.append(entry)
    except GitError as exc:
        raise ApiError(str(exc)) from None
    return Response.success(payload=entries)
