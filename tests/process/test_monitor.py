"""Tests of evqueue.process.monitor, run as ``python -m evqueue.process.monitor`` (real processes,
real files, the test's own IPC queue), locally and through a stand-in ssh with and without agent.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sysv_ipc

from evqueue.process.ipc import Message, ProgressMessage, TaskExitMessage, decode_message
from evqueue.process.spec import ProcessSettings, TaskSpec
from tests.e2e.enginekit import pid_alive
from tests.e2e.nodes import wait_for
from tests.process.helpers import stay_names, write_leaver

TRICKY = ["a b", "it's", '"dq"', "$HOME", "`id`", "back\\slash", "semi;colon", ""]

FAKE_SSH = """#!/bin/sh
# Stand-in for ssh: records its arguments, then runs the remote command locally with sh -c.
dir=$(dirname "$0")
: > "$dir/ssh-args"
for arg in "$@"; do printf '%s\\n' "$arg" >> "$dir/ssh-args"; done
while [ $# -gt 1 ]; do shift; done
exec /bin/sh -c "$1"
"""


def run_monitor(spec: TaskSpec, queue: sysv_ipc.MessageQueue,
                cwd: Path | None = None) -> tuple[int, list[Message]]:
    """Run one monitor to completion (in ``cwd``, the forker's directory, when given);
    return its pid and the messages it sent."""
    process = subprocess.run(
        [sys.executable, "-m", "evqueue.process.monitor"], input=spec.encode(), timeout=30,
        cwd=cwd,
    )
    return process.returncode, received(queue)


def received(queue: sysv_ipc.MessageQueue) -> list[Message]:
    """The messages waiting in the queue."""
    messages = []
    while True:
        try:
            data, mtype = queue.receive(block=False)
        except sysv_ipc.BusyError:
            return messages
        messages.append(decode_message(mtype, data))


def output(spec: TaskSpec, kind: str) -> str:
    return Path(spec.output_path(kind)).read_text()


def exit_message(messages: list[Message]) -> TaskExitMessage:
    assert isinstance(messages[-1], TaskExitMessage)
    return messages[-1]


@pytest.fixture
def remote(settings: ProcessSettings, tmp_path: Path) -> ProcessSettings:
    """Settings whose ssh is the stand-in and whose agent is this checkout's agent module."""
    ssh = tmp_path / "ssh"
    ssh.write_text(FAKE_SSH)
    agent = tmp_path / "evqueue-agent"
    agent.write_text(f'#!/bin/sh\nexec {sys.executable} -m evqueue.process.agent "$@"\n')
    for script in (ssh, agent):
        script.chmod(0o755)
    return dataclasses.replace(settings, ssh_path=str(ssh), agent_path=str(agent))


def ssh_args(tmp_path: Path) -> list[str]:
    return (tmp_path / "ssh-args").read_text().splitlines()


# -- local -----------------------------------------------------------------------------------


def test_exit_is_reported_with_monitor_pid_tid_and_retcode(settings, queue) -> None:
    spec = TaskSpec.build(settings, tid=11, path="/bin/sh", args=["-c", "echo out; exit 3"])
    code, messages = run_monitor(spec, queue)
    assert code == 3
    assert messages == [TaskExitMessage(pid=exit_message(messages).pid, tid=11, retcode=3)]
    assert exit_message(messages).pid > 0
    assert output(spec, "stdout") == "out\n"
    for kind in ("stdout", "stderr", "log"):
        assert stat.S_IMODE(os.stat(spec.output_path(kind)).st_mode) == 0o600


def test_arguments_are_passed_without_a_shell(settings, queue) -> None:
    spec = TaskSpec.build(settings, tid=1, path="/bin/echo", args=TRICKY)
    run_monitor(spec, queue)
    assert output(spec, "stdout") == " ".join(TRICKY) + "\n"


def test_log_channel_progress_escape_and_close(settings, queue) -> None:
    script = r"printf '%%30\nline\n%%%%lit 100%%\n\\close\nafter\n' >&3"
    spec = TaskSpec.build(settings, tid=2, path="/bin/sh", args=["-c", script])
    _, messages = run_monitor(spec, queue)
    assert isinstance(messages[0], ProgressMessage)
    assert messages[0].percent == 30 and messages[0].tid == 2
    assert exit_message(messages).retcode == 0
    assert output(spec, "log") == "line\n%lit 100%\n"


def test_merge_stderr_goes_to_the_stdout_file(settings, queue) -> None:
    script = "echo out; echo err >&2"
    spec = TaskSpec.build(settings, tid=3, path="/bin/sh", args=["-c", script], merge_stderr=True)
    run_monitor(spec, queue)
    assert output(spec, "stdout") == "out\nerr\n"
    assert output(spec, "stderr") == ""


def test_missing_working_directory(settings, queue, tmp_path: Path) -> None:
    missing = str(tmp_path / "nowhere")
    spec = TaskSpec.build(settings, tid=4, path="/bin/true", wd=missing)
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == -1
    assert f"Unable to change working directory to '{missing}'" in output(spec, "stderr")


def test_task_runs_in_core_wd_or_its_own_wd(settings, queue, tmp_path: Path) -> None:
    spec = TaskSpec.build(settings, tid=5, path="/bin/pwd")
    run_monitor(spec, queue)
    assert output(spec, "stdout") == f"{tmp_path / 'wd'}\n"
    spec = TaskSpec.build(settings, tid=6, path="/bin/pwd", wd=str(tmp_path / "tasks"))
    run_monitor(spec, queue)
    assert output(spec, "stdout") == f"{tmp_path / 'tasks'}\n"


def test_script_task_is_written_executed_and_deleted(settings, queue) -> None:
    spec = TaskSpec.build(settings, tid=7, script="#!/bin/sh\necho \"script $1\"\n", args=["a b"])
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    assert output(spec, "stdout") == "script a b\n"
    assert not os.path.exists(spec.script_path)


def test_script_kept_when_delete_is_off(settings, queue) -> None:
    kept = dataclasses.replace(settings, scripts_delete=False)
    spec = TaskSpec.build(kept, tid=8, script="#!/bin/sh\nexit 0\n")
    run_monitor(spec, queue)
    assert stat.S_IMODE(os.stat(spec.script_path).st_mode) == 0o700


def test_script_without_shebang_cannot_execute(settings, queue) -> None:
    spec = TaskSpec.build(settings, tid=9, script="echo no shebang\n")
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == -1
    assert f"Could not execute process: '{spec.script_path}'" in output(spec, "stderr")


# -- command lines left by the engine ---------------------------------------------------------


def test_command_line_is_expanded_with_command_substitution(settings, queue, tmp_path) -> None:
    line = "/bin/echo $(echo sub) `echo back` \"$(echo 'a  b')\" $((1+2)) '$HOME'"
    spec = TaskSpec.build(settings, tid=30, command_line=line, args=["in put"])
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    assert output(spec, "stdout") == "sub back a  b 3 $HOME in put\n"


def test_command_line_expands_before_the_task_changes_directory(settings, queue,
                                                                tmp_path) -> None:
    (tmp_path / "wd" / "here.txt").touch()
    task = tmp_path / "tasks" / "show.sh"
    task.write_text('#!/bin/sh\necho "$(pwd) $*"\n')
    task.chmod(0o755)
    spec = TaskSpec.build(settings, tid=31, command_line="show.sh $(echo x) *.txt",
                          wd=str(tmp_path / "logs"))
    _, messages = run_monitor(spec, queue, cwd=tmp_path / "wd")
    assert exit_message(messages).retcode == 0
    # the first word got the tasks directory; the glob matched in the forker's directory
    assert output(spec, "stdout") == f"{tmp_path / 'logs'} x here.txt\n"


@pytest.mark.parametrize("line", [
    "/bin/echo $(echo a) | wc",  # refused character after a substitution
    "/bin/echo $(echo a) 'open",
    "$(true)",  # no word at all
    "/bin/echo $(())",  # crashes glibc 2.36's wordexp: only the expanding child dies
    "/bin/echo ${UNSET:?}",
])
def test_command_line_that_cannot_be_expanded(settings, queue, line) -> None:
    spec = TaskSpec.build(settings, tid=32, command_line=line)
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == -1
    assert output(spec, "stderr") == "Error expanding task command line\n"
    assert output(spec, "stdout") == ""


def test_kill_during_expansion_stops_the_substituted_commands(settings, queue,
                                                              tmp_path) -> None:
    pid_file = tmp_path / "sleep.pid"
    line = f"/bin/echo $(echo $$ > {pid_file}; exec sleep 60)"
    spec = TaskSpec.build(settings, tid=33, command_line=line)
    monitor = subprocess.Popen([sys.executable, "-m", "evqueue.process.monitor"],
                               stdin=subprocess.PIPE)
    assert monitor.stdin is not None
    monitor.stdin.write(spec.encode())
    monitor.stdin.close()
    assert wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), 20)
    sleep_pid = int(pid_file.read_text())
    monitor.send_signal(signal.SIGTERM)
    monitor.wait(timeout=30)
    assert exit_message(received(queue)).retcode == -1
    assert "killed before the task started" in output(spec, "stderr")
    assert wait_for(lambda: not pid_alive(sleep_pid), 20)
    assert output(spec, "stdout") == ""


# -- remote ----------------------------------------------------------------------------------


def test_remote_without_agent_quotes_arguments(remote, queue, tmp_path: Path) -> None:
    spec = TaskSpec.build(remote, tid=20, path="/bin/echo", args=TRICKY, host="h", user="u",
                          wd=str(tmp_path), env={"A": "not sent"})
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    assert output(spec, "stdout") == " ".join(TRICKY) + "\n"
    args = ssh_args(tmp_path)
    assert args[0] == "u@h"
    assert args[1].startswith(f"cd {tmp_path} && /bin/echo ")


def test_remote_without_agent_pipes_stdin_and_stderr(remote, queue, tmp_path: Path) -> None:
    keyed = dataclasses.replace(remote, ssh_key="/path/to/key")
    script = 'cat; echo "[$A]" >&2; exit 5'
    spec = TaskSpec.build(keyed, tid=21, path="/bin/sh", args=["-c", script], host="h",
                          stdin=b"in\n", env={"A": "not sent"})
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 5
    assert output(spec, "stdout") == "in\n"
    assert output(spec, "stderr") == "[]\n"  # the environment is not transmitted without agent
    assert ssh_args(tmp_path)[:3] == ["-i", "/path/to/key", "h"]


def test_remote_with_agent_demultiplexes_everything(remote, queue) -> None:
    script = 'echo "out $1"; echo "err [$A] [$EVQUEUE_ENV]" >&2; echo %40 >&3; ' \
             'echo logline >&3; cat; exit 6'
    spec = TaskSpec.build(remote, tid=22, path="/bin/sh", args=["-c", script, "sh", "x'y $z"],
                          host="h", use_agent=True, env={"A": "sent"}, stdin=b"stdin data\n")
    _, messages = run_monitor(spec, queue)
    assert ProgressMessage(exit_message(messages).pid, 22, 40) in messages
    assert exit_message(messages).retcode == 6
    assert output(spec, "stdout") == "out x'y $z\nstdin data\n"
    assert output(spec, "stderr") == "err [sent] [true]\n"
    assert output(spec, "log") == "logline\n"


def test_remote_script_through_agent(remote, queue) -> None:
    spec = TaskSpec.build(remote, tid=23, script="#!/bin/sh\necho \"remote $1\"\n",
                          args=["a b"], host="h", use_agent=True)
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    assert output(spec, "stdout") == "remote a b\n"
    assert not os.path.exists(spec.script_path)  # deleted by the agent


def test_remote_agent_reports_exec_failure(remote, queue) -> None:
    spec = TaskSpec.build(remote, tid=24, path="/no/such/binary", host="h", use_agent=True)
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == -1
    assert "Could not execute process: '/no/such/binary'" in output(spec, "stderr")


def test_missing_ssh_binary(settings, queue, tmp_path: Path) -> None:
    broken = dataclasses.replace(settings, ssh_path=str(tmp_path / "no-ssh"))
    spec = TaskSpec.build(broken, tid=25, path="/bin/true", host="h")
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == -1
    assert f"Could not execute process: '{tmp_path / 'no-ssh'}'" in output(spec, "stderr")


def test_invalid_environment_name(settings, queue) -> None:
    spec = TaskSpec.build(settings, tid=26, path="/bin/true", env={"BAD=NAME": "x"})
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == -1
    assert "invalid environment" in output(spec, "stderr")


# -- processes the task leaves -----------------------------------------------------------------

def leaver(settings: ProcessSettings, tmp_path: Path, tid: int, wait: str = "") -> TaskSpec:
    """A task that starts three processes out of its reach (new session, nohup, double fork),
    waits until they run, writes a log line, and ends (or runs ``wait`` first)."""
    script = write_leaver(tmp_path) + "echo 'a line of its own' >&3\n" + wait
    return TaskSpec.build(settings, tid=tid, path="/bin/sh", args=["-c", script])


def left_pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "pids"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@pytest.fixture
def no_leftover(tmp_path: Path):
    yield
    subprocess.run(["kill", "-9", *map(str, left_pids(tmp_path))], stderr=subprocess.DEVNULL)


def leftover_lines(tmp_path: Path, pids: list[int], fate: str) -> list[str]:
    return [f"evq_monitor: process {name} left by the task, {fate}"
            for name in stay_names(tmp_path, pids)]


def killed_lines(spec: TaskSpec) -> dict[int, str]:
    """pid → stay argument of the processes the task's log names as killed."""
    pattern = re.compile(r"evq_monitor: process (\d+) \(/bin/sh \S+/stay\.sh (30[012])\) "
                         r"left by the task, killed")
    lines = [line for line in output(spec, "log").splitlines()
             if line != "a line of its own"]
    matches = [pattern.fullmatch(line) for line in lines]
    assert all(matches), lines
    return {int(match.group(1)): match.group(2) for match in matches if match}


def test_processes_left_by_the_task_are_named_in_its_log(settings, queue, tmp_path,
                                                         no_leftover) -> None:
    spec = leaver(settings, tmp_path, 40)
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    pids = left_pids(tmp_path)
    assert len(pids) == 3 and all(pid_alive(pid) for pid in pids), "left running by default"
    lines = output(spec, "log").splitlines()
    assert lines[0] == "a line of its own"
    assert sorted(lines[1:]) == sorted(leftover_lines(tmp_path, pids, "left running"))


def test_processes_left_by_the_task_are_killed_when_asked(settings, queue, tmp_path,
                                                          no_leftover) -> None:
    spec = dataclasses.replace(leaver(settings, tmp_path, 41), kill_leftovers=True)
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    pids = left_pids(tmp_path)
    assert len(pids) == 3 and not any(pid_alive(pid) for pid in pids)
    assert output(spec, "log").startswith("a line of its own\n")
    assert sorted(killed_lines(spec)) == sorted(pids)


def test_kill_reaches_the_processes_that_left_the_task_group(settings, queue, tmp_path,
                                                             no_leftover) -> None:
    fifo = tmp_path / "hold"
    os.mkfifo(fifo)
    spec = leaver(settings, tmp_path, 42, wait=f"read x < {fifo}")  # never written
    monitor = subprocess.Popen([sys.executable, "-m", "evqueue.process.monitor"],
                               stdin=subprocess.PIPE)
    assert monitor.stdin is not None
    monitor.stdin.write(spec.encode())
    monitor.stdin.close()
    log = Path(spec.output_path("log"))
    # once its log line is written, the task only waits on the FIFO
    assert wait_for(lambda: log.exists() and log.read_text() == "a line of its own\n", 20)
    pids = left_pids(tmp_path)
    assert len(pids) == 3
    monitor.send_signal(signal.SIGTERM)
    monitor.wait(timeout=30)
    assert exit_message(received(queue)).retcode == -1
    assert not any(pid_alive(pid) for pid in pids)
    # Those still in the task's group died with it; the one in a session of its own did not.
    killed = killed_lines(spec)
    assert set(killed) <= set(pids) and "300" in killed.values()


def test_a_task_that_leaves_nothing_has_its_log_unchanged(settings, queue) -> None:
    spec = TaskSpec.build(settings, tid=43, path="/bin/sh",
                          args=["-c", "sleep 0.1 & echo in the log >&3; wait"])
    _, messages = run_monitor(spec, queue)
    assert exit_message(messages).retcode == 0
    assert output(spec, "log") == "in the log\n"


PREPARED_THEN_QUEUE_REMADE = """
import sys
from evqueue.process import monitor
from evqueue.process.ipc import open_queue, remove_queue
from evqueue.process.spec import TaskSpec
spec = TaskSpec.decode(sys.stdin.buffer.read())
prepared = monitor.prepare(spec)  # what the forker does before forking
remove_queue(spec.ipc_key)
open_queue(spec.ipc_key)
sys.exit(monitor.run(spec, prepared) & 0xFF)
"""


def test_exit_reaches_a_queue_made_again_after_the_forker_opened_it(settings, ipc_key) -> None:
    spec = TaskSpec.build(settings, tid=12, path="/bin/sh", args=["-c", "exit 4"])
    process = subprocess.run([sys.executable, "-c", PREPARED_THEN_QUEUE_REMADE],
                             input=spec.encode(), timeout=30)
    assert process.returncode == 4
    messages = received(sysv_ipc.MessageQueue(ipc_key))
    assert [(m.tid, m.retcode) for m in messages] == [(12, 4)]
