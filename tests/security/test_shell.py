"""Workflow inputs reach tasks as data, never as shell code.

A workflow parameter is passed to a real task as a command-line argument, as an environment
variable (``parameters-mode="ENV"``) and on stdin. Each hostile value (command substitution,
backticks, ``;``, pipes, newlines, quotes, globs, variables) must arrive byte for byte, and the
commands hidden in it must never run: each would create a marker file.

Only the task's ``path``, written by the workflow's author, is expanded (by glibc's wordexp, as
evQueue does: quotes, variables, globs, command substitution); inputs are never added to it.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pytest

from evqueue.client.sync import Client
from tests.e2e.nodes import Node, wait_for
from tests.security.kit import b64, client, task_script

# {m} is replaced by a marker path, different for each value.
HOSTILE = [
    "$(touch {m})",
    "`touch {m}`",
    "; touch {m}",
    "| touch {m}",
    "&& touch {m}",
    "x\ntouch {m}",
    "' ; touch {m} ; '",
    '" ; touch {m} ; "',
    "$(touch {m}",
    "${{IFS}}touch${{IFS}}{m}",
    "* ? [a-z] ~root $HOME",
    "-n --help",
    "\\'\\\" \\\\ \\$",
]

ARGV = """
printf '%s' "$1" > "{out}/argv"
cat > "{out}/stdin"
"""
ENV = """
printf '%s' "$VALUE" > "{out}/env"
"""


def _workflow(argv_task: str, env_task: str) -> str:
    select = "evqGetWorkflowParameter('value')"
    return (
        "<workflow><parameters><parameter name='value'/></parameters><subjobs>"
        "<job name='args'><tasks>"
        f"<task name='argv' path={quoteattr(argv_task)} queue='default'>"
        f"<input><value select=\"{select}\"/></input>"
        f"<stdin><value select=\"{select}\"/></stdin></task>"
        f"<task name='env' path={quoteattr(env_task)} queue='default' parameters-mode='ENV'>"
        f"<input name='VALUE'><value select=\"{select}\"/></input></task>"
        "</tasks></job></subjobs></workflow>")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    directory = tmp_path_factory.mktemp("shell")
    out = directory / "out"
    out.mkdir()
    argv_task = task_script(directory, "argv.sh", ARGV.format(out=out))
    env_task = task_script(directory, "env.sh", ENV.format(out=out))
    node = Node(directory, settings={"processmanager.tasks.directory": str(directory)}).start()
    try:
        with client(node) as admin:
            admin.exec(f"<workflow action='create' name='args' "
                       f"content='{b64(_workflow(str(argv_task), str(env_task)))}'/>")
            yield node, admin, directory, out
    finally:
        node.stop()
        node.remove_ipc_queue()


def _run(admin: Client, value: str) -> None:
    answer = admin.exec(f"<instance action='launch' name='args' mode='synchronous'>"
                        f"<parameter name='value' value={quoteattr(value)}/></instance>")
    instance_id = answer.get("workflow-instance-id")
    instance = admin.exec(f"<instance action='query' id='{instance_id}'/>")[0]
    assert (instance.get("status"), instance.get("errors")) == ("TERMINATED", "0")


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_values_arrive_literally_and_run_nothing(world, template):
    node, admin, directory, out = world
    marker = directory / f"marker-{HOSTILE.index(template)}"
    value = template.format(m=marker)
    for name in ("argv", "env", "stdin"):
        (out / name).unlink(missing_ok=True)
    _run(admin, value)
    assert (out / "argv").read_text() == value
    assert (out / "env").read_text() == value
    assert (out / "stdin").read_text() == value
    assert not marker.exists(), f"{value!r} ran a command"


def test_a_task_path_is_expanded_as_evqueue_expands_it(world):
    node, admin, directory, out = world
    marker = directory / "marker-path"
    argv = directory / "argv.sh"
    for name, path, expected in (
        ("quoted", f"{argv} '$(touch {marker})'", f"$(touch {marker})"),
        ("substituted", f"{argv} $(echo ran)", "ran"),
    ):
        workflow = ("<workflow><subjobs><job><tasks>"
                    f"<task path={quoteattr(path)} queue='default'/>"
                    "</tasks></job></subjobs></workflow>")
        admin.exec(f"<workflow action='create' name='path_{name}' content='{b64(workflow)}'/>")
        (out / "argv").unlink(missing_ok=True)
        answer = admin.exec(f"<instance action='launch' name='path_{name}' mode='synchronous'/>")
        assert answer.get("workflow-instance-id")
        assert wait_for(lambda: (out / "argv").exists(), 10)
        assert (out / "argv").read_text() == expected
    assert not marker.exists()
