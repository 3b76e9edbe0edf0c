"""Tests of evqueue.process.spec: settings from the configuration, path rules, file names,
the spec's channel encoding and the remote command's quoting."""

from __future__ import annotations

import shlex
import subprocess

import pytest

from evqueue.config import Config
from evqueue.process.ipc import parse_qid
from evqueue.process.spec import (
    ProcessSettings,
    TaskSpec,
    configured_tasks_directory,
    resolve_task_path,
    task_environment,
    task_file,
    tids_with_output,
)

TRICKY = ["a b", "it's", '"quoted"', "$HOME", "`id`", "back\\slash", "", "semi;colon", "new\nline"]


def test_settings_from_config_resolves_directories_against_core_wd() -> None:
    cfg = Config.from_mapping(
        {
            "core.wd": "/srv/evq",
            "processmanager.logs.directory": "logs",
            "processmanager.scripts.directory": "/var/scripts",
            "processmanager.logs.tailsize": "1K",
            "cluster.node.name": "n7",
            "core.ipc.qid": "0x1234",
        }
    )
    settings = ProcessSettings.from_config(cfg)
    assert settings.logs_directory == "/srv/evq/logs"
    assert settings.scripts_directory == "/var/scripts"
    assert settings.tail_size == 1024
    assert settings.node == "n7"
    assert settings.ipc_key == 0x1234
    assert settings.tasks_directory == "."  # used as evQueue uses it, not made absolute


def test_settings_defaults_match_evqueue() -> None:
    settings = ProcessSettings.from_config(Config.defaults())
    assert settings == ProcessSettings()
    assert settings.ipc_key == parse_qid("0xEA023E3C")
    assert settings.tail_size == 20 * 1024
    assert settings.max_output == 50 * 1024 * 1024


def test_the_tasks_directory_is_the_configured_text() -> None:
    # evQueue prefixes task paths with the value as written: neither core.wd nor ~ is applied.
    for value in ("tasks", "~/tasks", "/opt/tasks", ""):
        cfg = Config.from_mapping({"core.wd": "/srv/evq", "processmanager.tasks.directory": value})
        assert configured_tasks_directory(cfg) == value
        assert ProcessSettings.from_config(cfg).tasks_directory == value


def test_resolve_task_path() -> None:
    assert resolve_task_path("/bin/true", "/opt/tasks") == "/bin/true"
    assert resolve_task_path("run.sh", "/opt/tasks/") == "/opt/tasks/run.sh"
    assert resolve_task_path("run.sh", ".") == "./run.sh"
    assert resolve_task_path("run.sh", "") == "run.sh"


def test_task_files_carry_node_and_tid() -> None:
    assert task_file("/logs", "node1", 42, "stdout") == "/logs/node1-42.stdout"
    assert task_file("/logs", "a/b c", 1, "log") == "/logs/a_b_c-1.log"
    settings = ProcessSettings(node="n1", logs_directory="/l", scripts_directory="/s")
    spec = TaskSpec.build(settings, tid=5, script="#!/bin/sh\n")
    assert spec.output_path("stderr") == "/l/n1-5.stderr"
    assert spec.script_path == "/s/n1-5.script"
    assert spec.executable == "/s/n1-5.script"


def test_task_environment_adds_evqueue_variables() -> None:
    assert task_environment({"A": "1", "": "unnamed"}) == {
        "EVQUEUE_IPC_QID": "0",
        "EVQUEUE_ENV": "true",
        "A": "1",
        "DEFAULT_PARAMETER_NAME": "unnamed",
    }


def test_build_resolves_path_and_uses_settings() -> None:
    settings = ProcessSettings(node="n", tasks_directory="/tasks", core_wd="/wd", ipc_key=9)
    spec = TaskSpec.build(settings, tid=3, path="job.sh", args=["x"], stdin="text")
    assert spec.path == "/tasks/job.sh"
    assert spec.local_argv() == ["/tasks/job.sh", "x"]
    assert spec.local_wd == "/wd"
    assert spec.stdin == b"text"
    assert spec.ipc_key == 9
    assert TaskSpec.build(settings, tid=3, path="a", wd="/other").local_wd == "/other"


def test_encode_decode_round_trip() -> None:
    spec = TaskSpec.build(
        ProcessSettings(),
        tid=12,
        path="/bin/cat",
        args=TRICKY,
        env={"K": "v\x01", "": "x"},
        stdin=b"\x00\xff binary",
        host="h",
        user="u",
        use_agent=True,
        script="#!/bin/sh\necho é\n",
    )
    assert TaskSpec.decode(spec.encode()) == spec


def test_a_command_line_spec_carries_the_tasks_directory_for_the_monitor() -> None:
    settings = ProcessSettings(tasks_directory="/tasks")
    spec = TaskSpec.build(settings, tid=4, command_line="run.sh $(date)", args=["x"])
    assert (spec.path, spec.command_line, spec.tasks_directory) == ("", "run.sh $(date)", "/tasks")
    assert TaskSpec.decode(spec.encode()) == spec


def test_decode_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="invalid task spec"):
        TaskSpec.decode(b"{}")
    with pytest.raises(ValueError, match="invalid task spec"):
        TaskSpec.decode(b"not json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tid": 0, "path": "/bin/true"}, "tid"),
        ({"tid": 1}, "needs a path"),
        ({"tid": 1, "script": "x", "host": "h"}, "Script tasks cannot be remote"),
        ({"tid": 1, "path": "/bin/true", "host": "-oProxyCommand=x"}, "invalid remote"),
    ],
)
def test_invalid_specs_cannot_be_built(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TaskSpec.build(ProcessSettings(), **kwargs)  # type: ignore[arg-type]


def test_remote_argv_shape() -> None:
    settings = ProcessSettings(ssh_path="/usr/bin/ssh", ssh_key="/k", tasks_directory="/t")
    spec = TaskSpec.build(settings, tid=1, path="run", args=["a b"], host="h", user="u", wd="/w")
    assert spec.remote_argv() == ["/usr/bin/ssh", "-i", "/k", "u@h", "cd /w && /t/run 'a b'"]
    no_user = TaskSpec.build(ProcessSettings(ssh_key=""), tid=1, path="/x", host="h")
    assert no_user.remote_argv() == ["/usr/bin/ssh", "h", "/x"]


def test_remote_command_quotes_every_word_for_sh() -> None:
    settings = ProcessSettings(agent_path="/opt/evq agent/evqueue-agent --flag")
    spec = TaskSpec.build(settings, tid=1, path="/bin/echo", args=TRICKY, host="h",
                          wd="/dir with 'quote'", use_agent=True)
    command = spec.remote_command()
    assert command.startswith("cd '/dir with '\"'\"'quote'\"'\"'' && ")
    words = shlex.split(command.split(" && ", 1)[1])
    assert words == ["/opt/evq", "agent/evqueue-agent", "--flag", "/bin/echo", *TRICKY]
    # The real shell agrees: printf shows each argument unchanged.
    plain = TaskSpec.build(ProcessSettings(), tid=1, path="/usr/bin/printf",
                           args=["[%s]", *TRICKY], host="h")
    out = subprocess.run(["/bin/sh", "-c", plain.remote_command()], capture_output=True,
                         check=True).stdout.decode()
    assert out == "".join(f"[{arg}]" for arg in TRICKY)


def test_tids_with_output_lists_this_nodes_task_files(tmp_path):
    for name in ("node1-3.stdout", "node1-3.stderr", "node1-17.log", "node1-9.script",
                 "node1-21.kill", "node2-40.stdout", "node1-x.stdout", "unrelated.txt"):
        (tmp_path / name).write_text("")
    assert tids_with_output(str(tmp_path), "node1") == {3, 17, 21}
    assert tids_with_output(str(tmp_path / "missing"), "node1") == set()
