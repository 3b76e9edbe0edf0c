"""What a task execution needs: node settings, the task spec, per-task file names.

Rules:
- :class:`ProcessSettings` holds the node-wide ``processmanager.*`` values; it is built once from
  the configuration (:meth:`ProcessSettings.from_config`) and never read from globals.
- :class:`TaskSpec` is everything one monitor needs, resolved when built (task path, file
  names, working directory). It is checked when built: a spec that cannot run does not exist.
- Per-task files carry the node name AND the tid (``<logs>/<node>-<tid>.stdout``,
  ``<scripts>/<node>-<tid>.script``) so two nodes sharing a directory never collide.
- ``processmanager.tasks.directory`` is read by :func:`configured_tasks_directory` only (the
  process settings and the ``filesystem`` API use it): the configured text, as evQueue uses it.
- A relative task path is prefixed with it (as evQueue does), by :func:`resolve_task_path` only,
  in this layer only (:meth:`TaskSpec.build` for the words the engine split, the monitor for a
  line it expands itself; the engine passes the task's first word unchanged). The monitor
  changes to the task's working directory before executing it, so a still-relative result
  resolves against that directory, as in evQueue.
- The forker→monitor channel carries :meth:`TaskSpec.encode` (JSON). Both ends are ours, so this
  is not evQueue's DataSerializer format.
- The variables evQueue gives a task (``EVQUEUE_*``, ``DEFAULT_PARAMETER_NAME``) are added by
  :func:`task_environment` only, in the monitor; the engine passes the ENV-mode parameters alone.
- Remote commands are built with :func:`shlex.quote` on every word: arguments arrive unchanged.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Protocol

from evqueue.process.ipc import DEFAULT_QID, parse_qid

__all__ = [
    "KILL_KIND",
    "OUTPUT_KINDS",
    "ProcessSettings",
    "TaskSpec",
    "configured_tasks_directory",
    "node_file",
    "resolve_task_path",
    "task_environment",
    "task_file",
    "tids_with_output",
]

#: The kinds of per-task output files, also the ``type`` values of the live tail.
OUTPUT_KINDS = ("stdout", "stderr", "log")
#: Suffix of the file asking a task's monitor to kill it (:attr:`TaskSpec.kill_path`).
KILL_KIND = "kill"

#: Variables evQueue sets for every task.
_FIXED_ENV = {"EVQUEUE_IPC_QID": "0", "EVQUEUE_ENV": "true"}
#: An unnamed ENV-mode input arrives under this name (evQueue's DataSerializer does the same).
_UNNAMED_PARAMETER = "DEFAULT_PARAMETER_NAME"
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


class _ConfigLike(Protocol):
    """The part of :class:`evqueue.config.Config` this module reads."""

    def __getitem__(self, key: str) -> Any: ...

    def path(self, key: str) -> str: ...


def _file_prefix(node: str) -> str:
    """The node name as per-task file names carry it (``[A-Za-z0-9._-]``, others become ``_``)."""
    return _UNSAFE_NAME_CHARS.sub("_", node) or "_"


def task_file(directory: str, node: str, tid: int, suffix: str) -> str:
    """Name of a per-task file, unique per node.

    Args:
        directory: the logs or scripts directory.
        node: the node name (characters outside ``[A-Za-z0-9._-]`` become ``_``).
        tid: the task id.
        suffix: ``stdout``, ``stderr``, ``log`` or ``script``.

    Returns:
        ``<directory>/<node>-<tid>.<suffix>``.
    """
    return os.path.join(directory, f"{_file_prefix(node)}-{tid}.{suffix}")


def node_file(directory: str, node: str, suffix: str) -> str:
    """Name of a per-node file (``<directory>/<node>.<suffix>``, the node named as in
    :func:`task_file`)."""
    return os.path.join(directory, f"{_file_prefix(node)}.{suffix}")


def tids_with_output(directory: str, node: str) -> set[int]:
    """The tids that have output files of ``node`` in ``directory``.

    Files exist from the monitor's start until the engine has stored the task's result (the
    output files stay for good unless ``processmanager.logs.delete``), so after a restart
    these are the tids that tasks of the previous run may still use: a new task must not get
    one of them.

    Args:
        directory: the logs directory.
        node: the node name.

    Returns:
        The tids found (none when the directory cannot be read).
    """
    pattern = re.compile(re.escape(_file_prefix(node))
                         + r"-([0-9]+)\.(?:stdout|stderr|log|status|kill)")
    try:
        with os.scandir(directory) as entries:
            return {int(match.group(1)) for entry in entries
                    if (match := pattern.fullmatch(entry.name))}
    except OSError:
        return set()


def configured_tasks_directory(cfg: _ConfigLike) -> str:
    """``processmanager.tasks.directory`` as evQueue uses it: the configured text, unchanged.

    A relative value is not made absolute against ``core.wd`` here: prefixed to a path by
    :func:`resolve_task_path`, it resolves in the directory of whoever opens the result, as in
    evQueue: a task's working directory (the monitor changes to it first, ``core.wd`` when the
    task has none), the node's own (``core.wd``) for the ``filesystem`` API.

    Args:
        cfg: the loaded configuration.

    Returns:
        The directory, possibly relative ("" is kept: task paths are then used as they are).
    """
    return str(cfg["processmanager.tasks.directory"])


def resolve_task_path(path: str, tasks_directory: str) -> str:
    """evQueue's path rule: an absolute path is kept, a relative one is prefixed.

    Args:
        path: the executable named by the task.
        tasks_directory: ``processmanager.tasks.directory``
            (:func:`configured_tasks_directory`).

    Returns:
        The path to execute (or to list).
    """
    if os.path.isabs(path) or not tasks_directory:
        return path
    return tasks_directory.rstrip("/") + "/" + path


def task_environment(env: dict[str, str]) -> dict[str, str]:
    """The variables a task gets on top of the inherited environment.

    Args:
        env: the task's ENV-mode parameters (name → value; an empty name is allowed).

    Returns:
        ``EVQUEUE_IPC_QID=0``, ``EVQUEUE_ENV=true`` and the parameters, an empty name becoming
        ``DEFAULT_PARAMETER_NAME``.
    """
    result = dict(_FIXED_ENV)
    for name, value in env.items():
        result[name or _UNNAMED_PARAMETER] = value
    return result


@dataclass(frozen=True)
class ProcessSettings:
    """Node-wide settings of the process layer (``processmanager.*``, ``core.ipc.qid``, …).

    Directories are absolute (relative configuration values are resolved against ``core.wd``
    by :meth:`from_config`), except ``tasks_directory`` which is used as evQueue uses it
    (:func:`configured_tasks_directory`).
    """

    node: str = "localhost"
    ipc_key: int = field(default_factory=lambda: parse_qid(DEFAULT_QID))
    core_wd: str = ""
    logs_directory: str = "/tmp"
    logs_delete: bool = True
    tail_size: int = 20 * 1024
    max_output: int = 50 * 1024 * 1024
    tasks_directory: str = "."
    scripts_directory: str = "/tmp"
    scripts_delete: bool = True
    ssh_path: str = "/usr/bin/ssh"
    ssh_key: str = ""
    agent_path: str = "/usr/bin/evqueue_agent"
    forker_pidfile: str = "/tmp/evqueue-forker.pid"
    kill_leftovers: bool = False

    @classmethod
    def from_config(cls, cfg: _ConfigLike) -> ProcessSettings:
        """Build the settings from an :class:`evqueue.config.Config`.

        Args:
            cfg: the loaded configuration.

        Returns:
            The settings.

        Raises:
            IpcKeyError: ``core.ipc.qid`` gives no usable key.
        """
        return cls(
            node=cfg["cluster.node.name"],
            ipc_key=parse_qid(cfg["core.ipc.qid"]),
            # absolute: a relative core.wd is relative to where the node was started
            core_wd=getattr(cfg, "wd", "") if cfg["core.wd"] else "",
            logs_directory=cfg.path("processmanager.logs.directory"),
            logs_delete=cfg["processmanager.logs.delete"],
            tail_size=cfg["processmanager.logs.tailsize"],
            max_output=cfg["datastore.db.maxsize"],
            tasks_directory=configured_tasks_directory(cfg),
            scripts_directory=cfg.path("processmanager.scripts.directory"),
            scripts_delete=cfg["processmanager.scripts.delete"],
            ssh_path=cfg["processmanager.monitor.ssh_path"],
            ssh_key=cfg["processmanager.monitor.ssh_key"],
            agent_path=cfg["processmanager.agent.path"],
            forker_pidfile=cfg.path("forker.pidfile"),
            kill_leftovers=cfg["processmanager.tasks.kill_leftovers"],
        )


@dataclass(frozen=True)
class TaskSpec:
    """One task execution, as the monitor receives it. Build it with :meth:`build`.

    ``path`` is already resolved; ``script`` is set for SCRIPT tasks (then ``path`` is unused and
    the script is written to :attr:`script_path`); ``wd`` is the task's own working directory
    ("" when it has none) and ``default_wd`` is ``core.wd``. ``command_line`` is a BINARY task's
    ``path`` that the monitor expands itself (then ``path`` is ""): its words come before
    ``args``, the first one resolved against ``tasks_directory``.
    """

    node: str
    tid: int
    path: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    command_line: str = ""
    tasks_directory: str = "."
    wd: str = ""
    default_wd: str = ""
    stdin: bytes = b""
    script: str | None = None
    merge_stderr: bool = False
    host: str = ""
    user: str = ""
    use_agent: bool = False
    logs_directory: str = "/tmp"
    scripts_directory: str = "/tmp"
    delete_script: bool = True
    ssh_path: str = "/usr/bin/ssh"
    ssh_key: str = ""
    agent_path: str = "/usr/bin/evqueue_agent"
    ipc_key: int = 0
    kill_leftovers: bool = False

    def __post_init__(self) -> None:
        if self.tid <= 0 or self.tid > 2**31 - 1:
            raise ValueError(f"tid must be a positive 32-bit integer, got {self.tid}")
        if self.script is None and not self.path and not self.command_line:
            raise ValueError("a BINARY task needs a path")
        if self.host and self.script is not None and not self.use_agent:
            raise ValueError("Script tasks cannot be remote without using evQueue agent")
        # A leading '-' would be read by ssh as an option.
        if self.host.startswith("-") or self.user.startswith("-"):
            raise ValueError(f"invalid remote host or user: {self.user!r}@{self.host!r}")

    @classmethod
    def build(
        cls,
        settings: ProcessSettings,
        *,
        tid: int,
        path: str = "",
        args: tuple[str, ...] | list[str] = (),
        env: dict[str, str] | None = None,
        command_line: str = "",
        wd: str = "",
        stdin: bytes | str = b"",
        script: str | None = None,
        merge_stderr: bool = False,
        host: str = "",
        user: str = "",
        use_agent: bool = False,
    ) -> TaskSpec:
        """Build a spec with the node's settings, resolving the task path.

        Args:
            settings: the node's process settings.
            tid: the task id (unique on this node while the task runs).
            path: the executable (the first word of the task ``path``); unused for scripts.
            args: static arguments then CMDLINE parameters, in order.
            env: ENV-mode parameters.
            command_line: a BINARY task's path for the monitor to expand (``path`` unused).
            wd: the task's working directory ("" → ``core.wd`` locally, none remotely).
            stdin: data piped to the task's stdin ("" → no pipe, stdin is /dev/null).
            script: the script content of a SCRIPT task (needs a ``#!`` line).
            merge_stderr: send stderr to the stdout file.
            host: remote host ("" → run locally).
            user: remote user ("" → ssh's default).
            use_agent: run through the evqueue agent on the remote side.

        Returns:
            The spec.
        """
        return cls(
            node=settings.node,
            tid=tid,
            path=resolve_task_path(path, settings.tasks_directory) if path else "",
            args=tuple(args),
            env=dict(env or {}),
            command_line=command_line,
            tasks_directory=settings.tasks_directory,
            wd=wd,
            default_wd=settings.core_wd,
            stdin=stdin.encode() if isinstance(stdin, str) else stdin,
            script=script,
            merge_stderr=merge_stderr,
            host=host,
            user=user,
            use_agent=use_agent,
            logs_directory=settings.logs_directory,
            scripts_directory=settings.scripts_directory,
            delete_script=settings.scripts_delete,
            ssh_path=settings.ssh_path,
            ssh_key=settings.ssh_key,
            agent_path=settings.agent_path,
            ipc_key=settings.ipc_key,
            kill_leftovers=settings.kill_leftovers,
        )

    # -- derived values ------------------------------------------------------------------------

    def output_path(self, kind: str) -> str:
        """Path of the ``stdout``, ``stderr`` or ``log`` file of this task."""
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"unknown output kind {kind!r}")
        return task_file(self.logs_directory, self.node, self.tid, kind)

    @property
    def status_path(self) -> str:
        """Path of this task's status file (:mod:`evqueue.process.status_file`)."""
        return task_file(self.logs_directory, self.node, self.tid, "status")

    @property
    def kill_path(self) -> str:
        """The file the engine creates before it signals this task's monitor to kill it: a
        monitor that runs its second task or later obeys a SIGTERM only when it exists, as the
        signal may have been meant for the task it ran before."""
        return task_file(self.logs_directory, self.node, self.tid, KILL_KIND)

    @property
    def script_path(self) -> str:
        """Where a SCRIPT task's script is written (locally, or by the agent remotely)."""
        return task_file(self.scripts_directory, self.node, self.tid, "script")

    @property
    def executable(self) -> str:
        """The file executed for the task: the script file or the resolved path."""
        return self.script_path if self.script is not None else self.path

    @property
    def local_wd(self) -> str:
        """The directory a local task runs in ("" → stay in the forker's, i.e. core.wd)."""
        return self.wd or self.default_wd

    def local_argv(self) -> list[str]:
        """argv of a local execution (argv[0] is the executable)."""
        return [self.executable, *self.args]

    def remote_command(self) -> str:
        """The command string ssh passes to the remote shell, every word quoted."""
        words: list[str] = []
        if self.use_agent:
            words += shlex.split(self.agent_path)
        words += [self.executable, *self.args]
        command = " ".join(shlex.quote(word) for word in words)
        if self.wd:
            command = f"cd {shlex.quote(self.wd)} && {command}"
        return command

    def remote_argv(self) -> list[str]:
        """argv of a remote execution: ``ssh [-i key] [user@]host '<command>'``."""
        argv = [self.ssh_path]
        if self.ssh_key:
            argv += ["-i", self.ssh_key]
        argv.append(f"{self.user}@{self.host}" if self.user else self.host)
        argv.append(self.remote_command())
        return argv

    # -- forker → monitor channel ----------------------------------------------------------------

    def encode(self) -> bytes:
        """Serialize for the forker→monitor channel (JSON, stdin base64-encoded)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["args"] = list(self.args)
        data["stdin"] = base64.b64encode(self.stdin).decode("ascii")
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    @classmethod
    def decode(cls, payload: bytes) -> TaskSpec:
        """Inverse of :meth:`encode`.

        Raises:
            ValueError: the payload is not a valid spec.
        """
        try:
            data = json.loads(payload)
            data["args"] = tuple(data["args"])
            data["stdin"] = base64.b64decode(data["stdin"])
            return cls(**data)
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid task spec: {exc}") from None
