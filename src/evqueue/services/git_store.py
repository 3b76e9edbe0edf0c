"""A git working copy of workflow files, driven through the ``git`` command line.

Rules (semantics.md §5.8):

- ``git.repository`` is the path of a local clone. When its branch tracks a remote, ``pull``
  fast-forwards from it and commits are pushed to it; a clone without upstream works alone.
- Files are ``<git.workflows.subdirectory>/<name>.xml`` relative to the repository.
- Commits are signed with ``git.signature.name``/``.email`` (author and committer).
- Credentials: ``git.private_key`` is handed to ssh (``GIT_SSH_COMMAND``);
  ``git.user``/``git.password`` are answered to git's credential requests from the
  environment of the git process, never on its command line. git never prompts.
- Every operation holds one lock, so the steps of a save (pull, check, write, commit, push)
  are never interleaved with another; each git command is bounded by :data:`GIT_TIMEOUT`.
- Failures raise :class:`GitError` with evQueue's message where it has one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from evqueue.config import Config

__all__ = ["GIT_TIMEOUT", "GitError", "GitRepository", "GitSettings"]

#: Seconds a single git command may take (a pull or push over a slow network).
GIT_TIMEOUT = 120.0

_CREDENTIAL_HELPER = ('!f() { test "$1" = get || exit 0; '
                      'echo "username=$EVQUEUE_GIT_USER"; echo "password=$EVQUEUE_GIT_PASSWORD"; '
                      '}; f')


class GitError(Exception):
    """A git operation failed; the message is what the API client is told."""


@dataclass(frozen=True)
class GitSettings:
    """The ``git.*`` configuration."""

    repository: str
    subdirectory: str = "workflows"
    name: str = "evQueue"
    email: str = "evqueue@local"
    user: str = ""
    password: str = ""
    private_key: str = ""

    @classmethod
    def from_config(cls, cfg: Config) -> GitSettings:
        """Read the ``git.*`` keys (``repository`` is "" when git is disabled)."""
        return cls(
            repository=cfg.path("git.repository"),
            subdirectory=str(cfg["git.workflows.subdirectory"]).strip("/") or ".",
            name=str(cfg["git.signature.name"]), email=str(cfg["git.signature.email"]),
            user=str(cfg["git.user"]), password=str(cfg["git.password"]),
            private_key=cfg.path("git.private_key"),
        )


class GitRepository:
    """The workflows' clone: read, write, commit, push, pull."""

    def __init__(self, settings: GitSettings) -> None:
        self.settings = settings
        self._lock = asyncio.Lock()

    def relative(self, name: str) -> str:
        """The repository path of workflow ``name``'s file."""
        return f"{self.settings.subdirectory}/{name}.xml"

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[GitRepository]:
        """Hold the repository for a sequence of operations."""
        async with self._lock:
            yield self

    # -- commands (call them while holding locked()) ------------------------------------------

    async def pull(self) -> None:
        """Fast-forward from the upstream branch, if there is one."""
        if await self._has_upstream():
            await self._git("pull", "--ff-only", "--quiet")

    async def push(self) -> None:
        """Push the current branch to its upstream, if there is one."""
        if await self._has_upstream():
            await self._git("push", "--quiet")

    async def last_commit(self, path: str) -> str:
        """The id of the last commit that touched ``path`` ("" if none)."""
        return (await self._git("log", "-n", "1", "--format=%H", "--", path)).strip()

    async def is_modified(self, path: str) -> bool:
        """True when ``path`` differs from the last commit (or is untracked)."""
        return bool((await self._git("status", "--porcelain", "--", path)).strip())

    def read(self, path: str) -> bytes:
        """The working copy of ``path``.

        Raises:
            GitError: the file does not exist.
        """
        full = os.path.join(self.settings.repository, path)
        try:
            with open(full, "rb") as source:
                return source.read()
        except OSError:
            raise GitError(f"Unable to read file {path}") from None

    async def show(self, revision: str, path: str) -> bytes:
        """``path`` as it was at ``revision``."""
        return await self._git_bytes("show", f"{revision}:{path}")

    async def commit_file(self, path: str, content: bytes, message: str) -> str:
        """Write, add and commit ``path``; returns the commit id.

        Raises:
            GitError: the file would not change ("No modifications on file, nothing to
                commit"), or git failed (the index is reset).
        """
        full = os.path.join(self.settings.repository, path)
        try:
            with open(full, "rb") as current:
                unchanged = hashlib.sha1(current.read()).digest() == hashlib.sha1(content).digest()
        except FileNotFoundError:
            unchanged = False
        if unchanged:
            raise GitError("No modifications on file, nothing to commit")
        os.makedirs(os.path.dirname(full), exist_ok=True)
        try:
            with open(full, "wb") as out:
                out.write(content)
        except OSError:
            raise GitError(f"Could not open file {full} for writing") from None
        try:
            await self._git("add", "--", path)
            await self._git("commit", "--quiet", "-m", message or "evQueue", "--", path)
        except GitError:
            await self._git("reset", "--quiet", "--", path, check=False)
            raise
        return (await self._git("rev-parse", "HEAD")).strip()

    async def remove_file(self, path: str, message: str) -> None:
        """Remove ``path`` from the repository and the working copy, and commit."""
        await self._git("rm", "--quiet", "--", path)
        await self._git("commit", "--quiet", "-m", message or "evQueue", "--", path)

    def list_files(self) -> list[str]:
        """The workflow names with a file in the subdirectory, sorted (hidden files skipped;
        no subdirectory, no workflow)."""
        directory = os.path.join(self.settings.repository, self.settings.subdirectory)
        try:
            names = os.listdir(directory)
        except FileNotFoundError:  # nothing saved yet, or the last file was removed
            return []
        except OSError:
            raise GitError(f"Unable to open directory {self.settings.subdirectory}") from None
        return sorted(n[:-4] for n in names
                      if not n.startswith(".") and len(n) > 4 and n.lower().endswith(".xml"))

    # -- running git -------------------------------------------------------------------------

    async def _has_upstream(self) -> bool:
        out = await self._git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{u}",
                              check=False)
        return bool(out.strip())

    async def _git(self, *args: str, check: bool = True) -> str:
        return (await self._git_bytes(*args, check=check)).decode("utf-8", errors="replace")

    async def _git_bytes(self, *args: str, check: bool = True) -> bytes:
        settings = self.settings
        if not os.path.isdir(settings.repository):
            raise GitError("Unable to access git repository")
        options: list[str] = []
        env = dict(os.environ, GIT_TERMINAL_PROMPT="0",
                   GIT_AUTHOR_NAME=settings.name, GIT_AUTHOR_EMAIL=settings.email,
                   GIT_COMMITTER_NAME=settings.name, GIT_COMMITTER_EMAIL=settings.email)
        if settings.user:
            options += ["-c", "credential.helper=", "-c", f"credential.helper={_CREDENTIAL_HELPER}"]
            env.update(EVQUEUE_GIT_USER=settings.user, EVQUEUE_GIT_PASSWORD=settings.password)
        if settings.private_key:
            env["GIT_SSH_COMMAND"] = (f"ssh -i {shlex.quote(settings.private_key)} "
                                      "-o IdentitiesOnly=yes -o BatchMode=yes")
        process = await asyncio.create_subprocess_exec(
            "git", *options, "-C", settings.repository, *args, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(), GIT_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise GitError(f"git {args[0]} timed out") from None
        if check and process.returncode != 0:
            detail = err.decode("utf-8", errors="replace").strip().splitlines()
            raise GitError(f"git {args[0]} failed: {detail[-1] if detail else process.returncode}")
        return out
