"""The per-task monitor: runs one task, captures its output, reports its exit over IPC.

It runs in a child the forker forked (:func:`monitor_main`), or standalone as
``python -m evqueue.process.monitor < spec.json`` (handy for debugging). Rules:

- The monitor calls ``setsid()``, so it survives the engine and the forker, and it never returns
  into the forker's code: it always ends with ``os._exit``.
- The task runs in its own session/process group, its stdout/stderr go to
  ``<logs>/<node>-<tid>.stdout|.stderr`` (0600, truncated), its fd 3 is a pipe parsed by
  :class:`~evqueue.process.logchannel.LogChannel` (log lines → ``.log``, ``%NN`` → IPC type 3).
- stdin data, if any, is piped in without blocking; otherwise stdin is /dev/null.
- ``merge_stderr`` sends stderr to the stdout file (evQueue's intent; its code lost stderr).
- SIGTERM to the monitor → SIGKILL to the task's process group, and the exit is reported (-1).
- The monitor is the child subreaper of the task (:mod:`evqueue.process.leftovers`): what the
  task leaves running when it ends (children started with ``setsid``, ``nohup``, a double
  fork…) is re-parented to the monitor, named in the task's ``.log`` (pid and command line),
  and killed when the task was killed or ``kill_leftovers`` is set (else left running).
- retcode: exit status as a signed char, else -1. Exec failure → ``Could not execute process:
  '<path>'`` in the stderr file and -1; working-directory failure likewise.
- A spec with a ``command_line`` (a task path the engine left to us: command substitution, or
  forms glibc's ``wordexp`` may crash on) is expanded first, with command substitution, in a
  child of the monitor (its own process group, so a kill reaches the commands it runs; a crash
  costs only that child), from the monitor's working directory (``core.wd``) before any change
  to the task's; the first word gets the tasks-directory prefix, the words go before the
  arguments. Failure → ``Error expanding task command line`` in the stderr file and -1.
- Remote (``host`` set): ``ssh [-i key] [user@]host '<quoted command>'``; with the agent, the
  agent's framed stdout is demultiplexed into the files and the log channel. Nothing is ever
  passed through a local shell.
- Whatever happens, a type-1 message (pid = monitor pid, tid, retcode) is sent last, after the
  retcode was written to the task's status file (:mod:`evqueue.process.status_file`).
- A monitor the forker gave a :class:`MonitorChannel` runs the next task the forker hands it
  (a forked process pays a copy-on-write fault for each page it writes; a monitor already
  running has paid), as long as its task was not killed, left nothing running and its
  working directory could be restored, up to :data:`MAX_TASKS` tasks; it exits when the
  forker closes its pipe (the forker is gone, or the monitor waited too long). From its
  second task on, a SIGTERM kills the task only if the engine wrote the task's kill file
  (:attr:`~evqueue.process.spec.TaskSpec.kill_path`): a signal sent for the task before is
  not obeyed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import signal
import struct
import sys
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

import sysv_ipc

from evqueue.process.agentwire import AgentHeader, FrameDecoder
from evqueue.process.child import Reader, exit_code, pump, spawn
from evqueue.process.errors import AgentProtocolError
from evqueue.process.ipc import ProgressMessage, TaskExitMessage, open_queue, send_message
from evqueue.process.leftovers import descendants, describe, kill_all, reap
from evqueue.process.logchannel import Closed, LogChannel, LogText, Progress
from evqueue.process.prctl import become_subreaper, set_process_name
from evqueue.process.spec import TaskSpec, resolve_task_path, task_environment
from evqueue.process.wordexp import EXPANSION_ERROR, WordExpError, wordexp

__all__ = ["MAX_TASKS", "MONITOR_NAME", "MonitorChannel", "Prepared", "monitor_main", "prepare",
           "run"]

#: The monitor's process name (``/proc/<pid>/comm``), checked by ``monitor_alive``.
MONITOR_NAME = "evq_monitor"

_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
#: The environment tasks inherit: the forker's (i.e. the engine's start-up environment), taken
#: once when the forker imports this module rather than re-encoded in every monitor.
_BASE_ENV: dict[bytes, bytes] = dict(os.environb)

ProgressReporter = Callable[[int], None]


#: Tasks one monitor process runs at most before it exits (a fresh one takes over).
MAX_TASKS = 500
#: What a monitor writes on its channel's ``ready`` pipe: its pid.
_READY = struct.Struct("=i")
#: A task handed to a waiting monitor: the forker's request header (tid, payload length).
_REQUEST_HEADER = struct.Struct("!qI")


class MonitorChannel:
    """A monitor's pipes to the forker: ``tasks`` (read: its next task) and ``ready`` (write:
    its pid, when it waits for one)."""

    __slots__ = ("ready", "tasks")

    def __init__(self, tasks: int, ready: int) -> None:
        self.tasks = tasks
        self.ready = ready


#: Each queue the forker sent an exit to, by key: opened once, not once per monitor.
_QUEUES: dict[int, sysv_ipc.MessageQueue] = {}
#: /dev/null, opened once (close-on-exec): a monitor's stdio, and its fd 3 (see _become_monitor).
_NULL: list[int] = []


class Prepared:
    """What the forker works out for a monitor before forking it.

    A forked monitor pays a copy-on-write page fault for every page of the forker's memory it
    writes to, including the reference counts of every object its code touches: file names,
    the environment and the queue are built here, in the forker, where that costs nothing.
    """

    __slots__ = ("env", "paths", "queue")

    def __init__(self, queue: sysv_ipc.MessageQueue, paths: tuple[str, str, str, str],
                 env: dict[bytes, bytes]) -> None:
        self.queue = queue
        #: stdout, stderr, log and status file names
        self.paths = paths
        #: the whole environment of a local task (the base one for a remote task)
        self.env = env


def prepare(spec: TaskSpec) -> Prepared:
    """Work out what a monitor for ``spec`` needs, in the forker.

    Raises:
        sysv_ipc.Error, OSError: the node's queue cannot be opened.
    """
    queue = _QUEUES.get(spec.ipc_key)
    if queue is None:
        queue = _QUEUES[spec.ipc_key] = open_queue(spec.ipc_key)
    _null()
    paths = (spec.output_path("stdout"), spec.output_path("stderr"), spec.output_path("log"),
             spec.status_path)
    return Prepared(queue, paths, _BASE_ENV if spec.host else _task_env(spec))


def _null() -> int:
    if not _NULL:
        _NULL.append(os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC))
    return _NULL[0]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _Task:
    """The running task as the SIGTERM handler sees it."""

    def __init__(self) -> None:
        self.pid = 0
        self.kill_requested = False

    def kill(self) -> None:
        self.kill_requested = True
        if self.pid:
            # The task is a session leader: its pgid is its pid.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)


class _Files:
    """The task's three output files, opened by the monitor."""

    def __init__(self, spec: TaskSpec, paths: tuple[str, str, str, str]) -> None:
        self.out = os.open(paths[0], _FILE_FLAGS, 0o600)
        self.err = os.open(paths[1], _FILE_FLAGS, 0o600)
        self.log = os.open(paths[2], _FILE_FLAGS, 0o600)
        self.stderr_target = self.out if spec.merge_stderr else self.err
        # Last: a status file means the output files exist (status_file.py).
        self.status = os.open(paths[3], _FILE_FLAGS, 0o600)
        _write_all(self.status, b"%d\n" % os.getpid())

    def error(self, message: str) -> None:
        """Write a monitor message where the user will see it: the task's stderr file."""
        with contextlib.suppress(OSError):
            _write_all(self.err, message.encode("utf-8", "replace"))

    def ended(self, retcode: int) -> None:
        """Record the retcode in the status file (before the exit message is sent)."""
        with contextlib.suppress(OSError):
            _write_all(self.status, b"%d\n" % retcode)

    def close(self) -> None:
        for fd in (self.out, self.err, self.log, self.status):
            with contextlib.suppress(OSError):
                os.close(fd)


def _log_reader(channel: LogChannel, files: _Files, report: ProgressReporter) -> Reader:
    """A pump reader feeding fd-3 data to the log channel and acting on its events."""

    def feed(data: bytes) -> bool:
        for event in channel.feed(data) if data else channel.feed_eof():
            if isinstance(event, Progress):
                report(event.percent)
            elif isinstance(event, LogText):
                _write_all(files.log, event.data)
            elif isinstance(event, Closed):
                return False
        return True

    return feed


def _agent_reader(files: _Files, log: Reader) -> Reader:
    """A pump reader demultiplexing the agent's frames into the files and the log channel."""
    decoder = FrameDecoder()
    state = {"corrupted": False, "log_open": True}

    def to_log(data: bytes) -> None:
        if state["log_open"] and log(data) is False:
            state["log_open"] = False

    def feed(data: bytes) -> bool:
        if state["corrupted"]:
            return True  # keep draining so the agent is not killed by SIGPIPE
        try:
            if not data:
                decoder.feed_eof()
                to_log(b"")
                return True
            for fd, chunk in decoder.feed(data):
                if fd == 3:
                    to_log(chunk)
                else:
                    _write_all(files.out if fd == 1 else files.stderr_target, chunk)
        except AgentProtocolError as exc:
            state["corrupted"] = True
            files.error(f"{exc}\n")
        return True

    return feed


def _task_env(spec: TaskSpec) -> dict[bytes, bytes]:
    env = dict(_BASE_ENV)
    for name, value in task_environment(spec.env).items():
        env[os.fsencode(name)] = os.fsencode(value)
    return env


def _start(path: str, argv: list[str], env: dict[bytes, bytes], fds: dict[int, int],
           task: _Task, files: _Files) -> int | None:
    """Spawn the task (or ssh); on failure write the reason to stderr and return None."""
    if task.kill_requested:
        files.error("evq_monitor: killed before the task started\n")
        return None
    try:
        pid = spawn(path, argv, env, fds, setsid=True)
    except OSError:
        files.error(f"Could not execute process: '{path}'\n")
        return None
    except ValueError as exc:
        files.error(f"evq_monitor: invalid environment: {exc}\n")
        return None
    task.pid = pid
    if task.kill_requested:  # SIGTERM arrived while spawning
        task.kill()
    return pid


def _expand_command_line(spec: TaskSpec, files: _Files, task: _Task) -> TaskSpec | None:
    """The spec with its ``command_line`` expanded, or None (reason in the stderr file)."""
    if task.kill_requested:
        files.error("evq_monitor: killed before the task started\n")
        return None
    words_r, words_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the expanding child
        code = 1
        try:
            os.close(words_r)
            os.setpgid(0, 0)
            words = wordexp(spec.command_line, commands=True)
            if words:
                # C strings hold no NUL: it separates the words.
                _write_all(words_w, b"\0".join(os.fsencode(word) for word in words))
                code = 0
        except (WordExpError, OSError):
            pass
        finally:
            os._exit(code)
    os.close(words_w)
    with contextlib.suppress(OSError):  # whichever of parent and child comes first
        os.setpgid(pid, pid)
    task.pid = pid
    if task.kill_requested:
        task.kill()
    chunks = []
    while chunk := os.read(words_r, 65536):
        chunks.append(chunk)
    os.close(words_r)
    _, status = os.waitpid(pid, 0)
    task.pid = 0
    if task.kill_requested:
        files.error("evq_monitor: killed before the task started\n")
        return None
    if os.waitstatus_to_exitcode(status) != 0:
        files.error(EXPANSION_ERROR + "\n")
        return None
    words = [os.fsdecode(word) for word in b"".join(chunks).split(b"\0")]
    try:
        return dataclasses.replace(
            spec, path=resolve_task_path(words[0], spec.tasks_directory),
            args=(*words[1:], *spec.args), command_line="")
    except ValueError:  # an empty executable with no tasks directory
        files.error(EXPANSION_ERROR + "\n")
        return None


def _write_script(path: str, content: str) -> None:
    fd = os.open(path, _FILE_FLAGS, 0o700)
    try:
        os.fchmod(fd, 0o700)
        _write_all(fd, content.encode("utf-8"))
    finally:
        os.close(fd)


def _run_local(spec: TaskSpec, env: dict[bytes, bytes], files: _Files, task: _Task,
               report: ProgressReporter) -> int:
    cwd = spec.local_wd
    if cwd:
        try:
            os.chdir(cwd)
        except OSError:
            files.error(f"evq_monitor: Unable to change working directory to '{cwd}'\n")
            return -1
    if spec.script is not None:
        _write_script(spec.script_path, spec.script)
    log_r, log_w = os.pipe()
    stdin_r, stdin_w = os.pipe() if spec.stdin else (os.open(os.devnull, os.O_RDONLY), -1)
    try:
        fds = {0: stdin_r, 1: files.out, 2: files.stderr_target, 3: log_w}
        pid = _start(spec.executable, spec.local_argv(), env, fds, task, files)
    finally:
        os.close(log_w)
        os.close(stdin_r)
    if pid is None:
        os.close(log_r)
        if stdin_w >= 0:
            os.close(stdin_w)
        return -1
    stdin = (stdin_w, spec.stdin) if stdin_w >= 0 else None
    reader = _log_reader(LogChannel(), files, report)
    return exit_code(pump(pid, stdin=stdin, readers={log_r: reader}))


def _run_remote(spec: TaskSpec, env: dict[bytes, bytes], files: _Files, task: _Task,
                report: ProgressReporter) -> int:
    data = spec.stdin
    if spec.use_agent:
        header = AgentHeader(task_environment(spec.env), spec.script, spec.delete_script)
        data = header.encode() + data
    stdin_r, stdin_w = os.pipe() if data else (os.open(os.devnull, os.O_RDONLY), -1)
    out_r, out_w = os.pipe() if spec.use_agent else (-1, files.out)
    # Without the agent the task's environment is not transmitted (as in evQueue).
    fds = {0: stdin_r, 1: out_w, 2: files.err if spec.use_agent else files.stderr_target}
    argv = spec.remote_argv()
    try:
        pid = _start(argv[0], argv, env, fds, task, files)
    finally:
        os.close(stdin_r)
        if spec.use_agent:
            os.close(out_w)
    if pid is None:
        for fd in (stdin_w, out_r):
            if fd >= 0:
                os.close(fd)
        return -1
    readers: dict[int, Reader] = {}
    if spec.use_agent:
        readers[out_r] = _agent_reader(files, _log_reader(LogChannel(), files, report))
    stdin = (stdin_w, data) if stdin_w >= 0 else None
    return exit_code(pump(pid, stdin=stdin, readers=readers))


def _leftovers(spec: TaskSpec, files: _Files, task: _Task) -> None:
    """Name in the task's log what the task left running, and kill it when asked to."""
    reap()
    pids = descendants()
    if not pids:
        return
    kill = spec.kill_leftovers or task.kill_requested
    fate = "killed" if kill else "left running"
    lines = [f"evq_monitor: process {describe(pid)} left by the task, {fate}\n" for pid in pids]
    with contextlib.suppress(OSError):
        _write_all(files.log, "".join(lines).encode("utf-8", "replace"))
    if kill:
        kill_all(pids)


def _progress_reporter(queue: sysv_ipc.MessageQueue, tid: int) -> ProgressReporter:
    def report(percent: int) -> None:
        # Never block on progress: a full queue (engine down) must not stall the task.
        with contextlib.suppress(sysv_ipc.BusyError):
            send_message(queue, ProgressMessage(os.getpid(), tid, percent), block=False)

    return report


def run(spec: TaskSpec, prepared: Prepared | None = None) -> int:
    """Run the task of ``spec`` and report its exit on the node's queue.

    Args:
        spec: the task.
        prepared: what the forker worked out for it (:func:`prepare`); worked out here if None.

    Returns:
        The retcode reported (-1 when the queue itself cannot be opened: nothing is reported).
    """
    return _run_once(spec, prepared, first=True, channel=None)[0]


def _run_once(spec: TaskSpec, prepared: Prepared | None, *, first: bool,
              channel: MonitorChannel | None) -> tuple[int, bool]:
    """:func:`run`, and whether this process may run another task: its task was not killed
    and left nothing running, and its working directory is back. With a ``channel``, a
    monitor that may run another task says so just before it sends the exit, so that the
    engine's next request (often the answer to that exit) finds it waiting.

    ``first``: the monitor's first task. A later one obeys a SIGTERM only when the engine
    asked for this task's death in its kill file (:attr:`TaskSpec.kill_path`): the signal may
    have been meant for the task before."""
    task = _Task()
    initial_wd = os.getcwd()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        if first or os.path.exists(spec.kill_path):
            task.kill()

    signal.signal(signal.SIGTERM, on_sigterm)
    # The forker forks us with SIGTERM blocked; a kill that came in meanwhile is handled now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if prepared is None:
        try:
            prepared = prepare(spec)
        except (sysv_ipc.Error, OSError):
            return -1, False  # nobody to tell; the engine is probably not running either
    queue = prepared.queue
    retcode = -1
    files: _Files | None = None
    clean = False
    try:
        files = _Files(spec, prepared.paths)
        runnable = _expand_command_line(spec, files, task) if spec.command_line else spec
        if runnable is not None:
            runner = _run_remote if runnable.host else _run_local
            env = prepared.env if runnable is spec else _task_env(runnable)
            retcode = runner(runnable, env, files, task, _progress_reporter(queue, spec.tid))
        task.pid = 0  # reaped: its pid (and group id) may be anyone's now
        _leftovers(spec, files, task)
        if task.kill_requested:
            files.error("evq_monitor : received SIGTERM, killing task...\n")
        clean = not task.kill_requested and not descendants()
    except Exception as exc:  # report whatever happened, never lose the exit message
        if files is not None:
            files.error(f"evq_monitor: {exc}\n")
        retcode = -1
    finally:
        if spec.script is not None and spec.delete_script and not spec.host:
            with contextlib.suppress(OSError):
                os.unlink(spec.script_path)
        if files is not None:
            files.ended(retcode)
            files.close()
    if clean:
        try:
            os.chdir(initial_wd)
        except OSError:
            clean = False
    if clean and channel is not None:
        try:
            _write_all(channel.ready, _READY.pack(os.getpid()))
        except OSError:  # the forker is gone: no next task
            clean = False
    _send_exit(queue, spec, TaskExitMessage(os.getpid(), spec.tid, retcode))
    return retcode, clean


def _send_exit(queue: sysv_ipc.MessageQueue, spec: TaskSpec, message: TaskExitMessage) -> None:
    try:
        send_message(queue, message)
    except (sysv_ipc.ExistentialError, OSError):
        # The queue the forker opened was removed (EIDRM, or EINVAL once its id is gone) and
        # maybe made again: the exit goes to the queue the key names now.
        with contextlib.suppress(sysv_ipc.Error, OSError):
            send_message(open_queue(spec.ipc_key), message)
    except sysv_ipc.Error:
        pass


def _become_monitor() -> None:
    """Detach from the forker: own session, own name, stdio on /dev/null, fd 3 taken."""
    with contextlib.suppress(PermissionError):  # already a session leader
        os.setsid()
    become_subreaper()  # what the task leaves running is re-parented to us (leftovers.py)
    set_process_name(MONITOR_NAME)
    null = _null()
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    # Held (close-on-exec) so every fd the monitor opens is above the task's 0-3 and the task
    # is spawned without first moving its fds out of the way (child.spawn).
    if null != 3:
        os.dup2(null, 3, inheritable=False)


def _next_task(channel: MonitorChannel) -> TaskSpec | None:
    """Wait for the task the forker hands this monitor (it said it waits): None when the
    forker lets the monitor go (end of its pipe) or sends what is not a task."""
    header = _read_exact(channel.tasks, _REQUEST_HEADER.size)
    if header is None:
        return None
    _, size = _REQUEST_HEADER.unpack(header)
    payload = _read_exact(channel.tasks, size)
    if payload is None:
        return None
    try:
        return TaskSpec.decode(payload)
    except ValueError:
        return None


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def monitor_main(spec: TaskSpec, prepared: Prepared | None = None,
                 channel: MonitorChannel | None = None) -> NoReturn:
    """Entry point of a monitor: run the task, then (with a ``channel`` to the forker) the
    tasks the forker hands it while it stays clean, up to :data:`MAX_TASKS`; exit. Never
    returns.

    Args:
        spec: the first task.
        prepared: what the forker worked out for it (:func:`prepare`).
        channel: where the next tasks come from, if this monitor may run more than one.
    """
    code = 255
    # Collecting would only touch (and copy) the forker's pages; a monitor that runs many
    # tasks is retired before its garbage matters (MAX_TASKS).
    gc.disable()
    try:
        _become_monitor()
        served = 1
        retcode, clean = _run_once(spec, prepared, first=True,
                                   channel=channel if served < MAX_TASKS else None)
        code = retcode & 0xFF
        while channel is not None and clean and served < MAX_TASKS:
            following = _next_task(channel)
            if following is None:
                break
            served += 1
            retcode, clean = _run_once(following, None, first=False,
                                       channel=channel if served < MAX_TASKS else None)
            code = retcode & 0xFF
    finally:
        os._exit(code)


if __name__ == "__main__":
    monitor_main(TaskSpec.decode(sys.stdin.buffer.read()))
