"""Task paths on a real node are split as evQueue splits them: glibc's wordexp.

The engine expands a path itself (no command substitution); a path with ``$(…)``, backticks or
arithmetic is expanded by the task's monitor. Globs match from ``core.wd`` (the node directory)
whatever the task's ``wd``; a path wordexp refuses aborts the task before it runs, or, when the
monitor expands it, fails the execution.
"""

from __future__ import annotations

import os
from xml.sax.saxutils import quoteattr

import pytest

from tests.e2e.enginekit import EngineNode, one_job, started

EXPANSION_ERROR = "Error expanding task command line"
PRINT = "/usr/bin/printf '[%s]'"

#: name → (path, inputs, wd)
TASKS = {
    "sh": ("/bin/sh -c 'echo $0-$1' X", ["Y"], ""),
    "quotes": (f"{PRINT} '$HOME' $HOME ~root $EVQ_UNSET \"$EVQ_UNSET\" end", [], ""),
    "glob": (f"{PRINT} shared/g*.txt", [], "/tmp"),
    "substitution": (f"{PRINT} $(echo sub) `echo back` $((1+2)) shared/g*.txt", ["in"], "/tmp"),
    "relative": ("args.sh 'a b'", ["in"], ""),
    "relative_substitution": ("args.sh $(echo sub)", ["in"], ""),
    "pipe": ("/bin/echo a | /usr/bin/wc", [], ""),
    "stdin": ("/bin/cat < /etc/hostname", [], ""),
    "stdout": ("/bin/echo a > out.txt", [], ""),
    "failing_substitution": ("/bin/echo $(echo a) |", [], ""),
}


def _task(name: str) -> str:
    path, inputs, wd = TASKS[name]
    wd_attribute = f" wd={quoteattr(wd)}" if wd else ""
    children = "".join(f"<input>{value}</input>" for value in inputs)
    return (f"<task name='{name}' path={quoteattr(path)} queue='wide'{wd_attribute}>"
            f"{children}</task>")


@pytest.fixture(scope="module")
def final(tmp_path_factory):
    node = started(EngineNode(tmp_path_factory.mktemp("command_line")))
    try:
        node.queue("wide", 10)
        node.task("args.sh", "printf '[%s]' \"$@\"")
        for name in ("g2.txt", "g1.txt"):
            (node.shared / name).touch()
        node.workflow("command_lines", one_job(*(_task(name) for name in TASKS)))
        yield node.run_workflow("command_lines")
    finally:
        node.close()


def _output(final, name: str) -> str:
    task = final.find(f".//task[@name='{name}']")
    assert (task.get("status"), task.get("retval")) == ("TERMINATED", "0"), task.get("error")
    return task.find("output").text


@pytest.mark.parametrize(("name", "output"), [
    ("sh", "X-Y\n"),
    ("quotes", f"[$HOME][{os.environ['HOME']}][/root][][end]"),
    ("glob", "[shared/g1.txt][shared/g2.txt]"),
    ("substitution", "[sub][back][3][shared/g1.txt][shared/g2.txt][in]"),
    ("relative", "[a b][in]"),
    ("relative_substitution", "[sub][in]"),
])
def test_words_are_those_of_wordexp(final, name, output):
    assert _output(final, name) == output


@pytest.mark.parametrize("name", ["pipe", "stdin", "stdout"])
def test_a_refused_character_aborts_the_task_before_it_runs(final, name):
    task = final.find(f".//task[@name='{name}']")
    assert (task.get("status"), task.get("error")) == (
        "ABORTED", f"Task execution : {EXPANSION_ERROR}")
    assert task.get("retval") is None and task.find("output") is None


def test_a_failing_substitution_line_fails_the_execution(final):
    task = final.find(".//task[@name='failing_substitution']")
    assert (task.get("status"), task.get("retval")) == ("TERMINATED", "-1")
    assert task.find("stderr").text == f"{EXPANSION_ERROR}\n"
    assert task.find("output").text is None


def test_the_instance_counts_each_failed_task(final):
    assert (final.get("status"), final.get("errors")) == ("TERMINATED", "4")


@pytest.fixture(scope="module")
def dotted(tmp_path_factory):
    """A node with evQueue's default tasks directory, ``.``, and tasks with a ``wd``."""
    node = started(EngineNode(tmp_path_factory.mktemp("dotted"),
                              settings={"processmanager.tasks.directory": "."}))
    try:
        node.queue("wide", 10)
        where = node.shared / "where.sh"
        where.write_text('#!/bin/sh\nprintf \'%s:%s\' "$(pwd)" "$*"\n')
        where.chmod(0o755)
        wd = quoteattr(str(node.shared))
        node.workflow("dotted", one_job(
            f"<task name='split' path='where.sh a' queue='wide' wd={wd}/>",
            f"<task name='expanded' path='where.sh $(echo a)' queue='wide' wd={wd}/>"))
        yield node, node.run_workflow("dotted")
    finally:
        node.close()


@pytest.mark.parametrize("name", ["split", "expanded"])
def test_a_relative_tasks_directory_resolves_in_the_task_wd(dotted, name):
    # evQueue runs "./where.sh" after changing to the task's wd, however the path was expanded.
    node, final = dotted
    assert _output(final, name) == f"{node.shared}:a"
