"""evqueue-agent: runs a task on the remote side of ssh for the monitor.

Usage (the monitor builds this command): ``evqueue-agent PATH [ARG...]``, also runnable as
``python -m evqueue.process.agent``. Rules:

- stdin starts with an :class:`~evqueue.process.agentwire.AgentHeader` (task variables, script,
  delete flag); the rest of stdin is the task's stdin, passed through untouched.
- For a SCRIPT task, the header's script is written to PATH (0700) and executed, then deleted
  when the header says so.
- The task's fds 1, 2 and 3 are pipes; everything read from them is sent on the agent's stdout
  as frames ``"%02d%09d" % (fd, len)`` + data (≤ 4096 bytes each).
- The agent exits with the task's exit status, or -1 (255) when it was killed by a signal or
  could not be started.
- ``-h``/``--help`` prints :data:`USAGE` and exits 0; no argument at all prints it on stderr
  and exits 255, as evQueue's agent does.
- Like the monitor, it uses the standard library only (no sysv_ipc: nothing is reported by IPC
  on the remote side).
"""

from __future__ import annotations

import contextlib
import os
import sys

from evqueue.process.agentwire import AgentHeader, encode_frames, read_header
from evqueue.process.child import Reader, exit_code, pump, spawn
from evqueue.process.errors import AgentProtocolError

__all__ = ["main"]

_FORWARDED_FDS = (1, 2, 3)

USAGE = """usage: evqueue-agent PATH [ARG...]

Runs one task of an evqueue node on this host. It is not meant to be run by hand: for a
remote task with use-agent="yes", the node's monitor starts it over ssh as
  ssh [USER@]HOST AGENT PATH [ARG...]
where AGENT is the node's processmanager.agent.path (default /usr/bin/evqueue_agent: link it
to this program). The monitor writes a header on the agent's stdin (the task's environment
and, for a SCRIPT task, the script to write to PATH), then the task's stdin. The agent runs
PATH with the arguments, sends the task's stdout, stderr and log channel (fd 3) back on its
stdout as frames, and exits with the task's exit status (255 when the task could not be
started or was killed by a signal).
"""


def _emit(fd: int, data: bytes) -> None:
    """Write frames for ``fd`` on the agent's stdout."""
    view = memoryview(encode_frames(fd, data))
    while view:
        view = view[os.write(1, view) :]


def _forwarder(fd: int) -> Reader:
    def forward(data: bytes) -> bool:
        if data:
            _emit(fd, data)
        return True

    return forward


def _write_script(path: str, content: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o700)
    try:
        os.fchmod(fd, 0o700)
        data = memoryview(content.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def _run(argv: list[str], header: AgentHeader) -> int:
    path = argv[0]
    pipes = {fd: os.pipe() for fd in _FORWARDED_FDS}
    try:
        env = {**os.environ, **header.env}
        fds = {0: 0, **{fd: write_end for fd, (_, write_end) in pipes.items()}}
        pid = spawn(path, argv, env, fds, setsid=False)
    except OSError:
        _emit(2, f"Could not execute process: '{path}'\n".encode())
        pid = None
    except ValueError as exc:
        _emit(2, f"evqueue_agent: invalid environment: {exc}\n".encode())
        pid = None
    finally:
        for _, write_end in pipes.values():
            os.close(write_end)
    if pid is None:
        for read_end, _ in pipes.values():
            os.close(read_end)
        return -1
    readers = {read_end: _forwarder(fd) for fd, (read_end, _) in pipes.items()}
    return exit_code(pump(pid, stdin=None, readers=readers))


def main(argv: list[str] | None = None) -> int:
    """Run the task named by ``argv`` with the header read from stdin.

    Args:
        argv: ``[PATH, ARG...]`` (default ``sys.argv[1:]``).

    Returns:
        The task's retcode (-1 on failure).
    """
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.stderr.write(USAGE)
        return -1
    if argv[0] in ("-h", "--help"):  # a task path never starts with '-'
        sys.stdout.write(USAGE)
        return 0
    try:
        header = read_header(0)
    except AgentProtocolError as exc:
        _emit(2, f"evqueue_agent: {exc}\n".encode())
        return -1
    try:
        if header.script is not None:
            _write_script(argv[0], header.script)
        return _run(argv, header)
    finally:
        if header.script is not None and header.delete_script:
            with contextlib.suppress(OSError):
                os.unlink(argv[0])


if __name__ == "__main__":
    sys.exit(main())
