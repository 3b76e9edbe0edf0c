"""Task values and the command built from them (semantics.md §1.7)."""

from __future__ import annotations

import pytest

from evqueue.engine import QueueDefinition
from evqueue.engine.values import TaskSetupError, split_path
from tests.engine.drive import Driver, make_instance
from tests.engine.workflows import simple

PARAMS = '<parameters><parameter name="p"/><parameter name="h"/></parameters>'


def wf(*tasks: str) -> str:
    return simple(*tasks).replace("<workflow>", f"<workflow>{PARAMS}")


def command_of(task_xml: str, **params: str):
    d = Driver(make_instance(wf(task_xml), {"p": "P", "h": "H", **params})).start()
    assert d.queued, d.task("t").get("error")
    return d.queued[0].command, d


class TestCommand:
    def test_cmdline_inputs_follow_static_arguments(self):
        command, _ = command_of(
            '<task name="t" path="tool.sh -v \'a b\'" queue="default">'
            '<input name="x">1</input><input>two</input></task>')
        assert command.path == "tool.sh"
        assert command.args == ("-v", "a b", "1", "two")
        assert command.env == {}
        assert command.stdin == b"" and command.script is None and command.type == "BINARY"

    def test_env_mode(self):
        command, _ = command_of(
            '<task name="t" path="/bin/tool" queue="default" parameters-mode="ENV">'
            '<input name="A">1</input><input>anon</input><input name="A">2</input></task>')
        assert command.args == ()
        assert command.env == {"A": "2", "": "anon"}

    def test_path_expansion(self):
        command, _ = command_of('<task name="t" path="~/bin/x $HOME" queue="default"/>')
        assert command.path == "/home/evq/bin/x" and command.args == ("/home/evq",)

    def test_attributes(self):
        command, _ = command_of('<task name="t" path="/x" queue="default" wd="/tmp" '
                                'merge-stderr="yes" use-agent="no"/>')
        assert (command.wd, command.merge_stderr, command.use_agent) == ("/tmp", True, False)
        assert (command.host, command.user) == ("", "")

    @pytest.mark.parametrize(("value", "flag"), [("yes", True), ("no", False), ("1", True),
                                                 ("0", False), ("2", True), (" 0", False)])
    def test_booleans_are_read_as_evqueue_reads_them(self, value, flag):
        command, _ = command_of(f'<task name="t" path="/x" queue="default" '
                                f'merge-stderr="{value}" use-agent="{value}"/>')
        assert (command.merge_stderr, command.use_agent) == (flag, flag)

    def test_instance_host_and_user(self):
        d = Driver(make_instance(wf('<task name="t" path="/x" queue="default"/>'),
                                 {"p": "P", "h": "H"}, host="far", user="bob")).start()
        command = d.queued[0].command
        assert (command.host, command.user) == ("far", "bob")

    def test_task_user_ignored_without_task_host(self):
        d = Driver(make_instance(wf('<task name="t" path="/x" queue="default" user="al"/>'),
                                 {"p": "P", "h": "H"}, host="far", user="bob")).start()
        assert d.queued[0].command.user == "bob"

    def test_stdin_text(self):
        command, _ = command_of('<task name="t" path="/x" queue="default">'
                                '<stdin>value <value select="evqGetWorkflowParameter(\'p\')"/>'
                                '</stdin></task>')
        assert command.stdin == b"value P"

    def test_skipped_stdin_sends_nothing(self):
        command, _ = command_of('<task name="t" path="/x" queue="default">'
                                '<stdin condition="false()">x</stdin></task>')
        assert command.stdin == b""

    @pytest.mark.parametrize(("attributes", "message"), [
        ('type="JAVA"', "Task execution : Unknown type JAVA"),
        ('parameters-mode="PIPE"', "Task execution : Unknown parameters mode PIPE"),
        ('output-method="JSON"', "Task execution : Unknown output method JSON"),
        ('type="SCRIPT" host="far"',
         "Task execution : Script tasks cannot be remote without using evQueue agent"),
        ('merge-stderr="true"',
         "Task execution : Attribute 'merge-stderr' has invalid boolean value"),
        ('use-agent="Yes"', "Task execution : Attribute 'use-agent' has invalid boolean value"),
    ])
    def test_unusable_task(self, attributes, message):
        d = Driver(make_instance(wf(f'<task name="t" path="/x" queue="default" {attributes}>'
                                    '<script>#!/bin/sh</script></task>'),
                                 {"p": "P", "h": "H"})).start()
        assert (d.task("t").get("status"), d.task("t").get("error")) == ("ABORTED", message)
        assert d.root.get("errors") == "1"

    def test_split_path(self):
        assert split_path('a "b c" d\\ e $X', {"X": "y"}) == ["a", "b c", "d e", "y"]
        assert split_path("a '$X' $UNSET \"$UNSET\"", {"X": "y"}) == ["a", "$X", ""]
        for refused in ("", "   ", "$UNSET", '"unbalanced', "a | b", "a > b", "a < b"):
            with pytest.raises(TaskSetupError, match="^Error expanding task command line$"):
                split_path(refused, {})
        # left to the monitor: command substitution, forms glibc may crash on
        for deferred in ("$(echo a)", "`echo a`", "$(echo a) |", "$((1+2))", "${X:-y}"):
            assert split_path(deferred, {}) is None

    def test_words_are_evqueues(self):
        command, _ = command_of(
            '<task name="t" path="/bin/sh -c \'echo $0-$1\' X" queue="default">'
            '<input>Y</input></task>')
        assert (command.path, command.args) == ("/bin/sh", ("-c", "echo $0-$1", "X", "Y"))
        assert command.command_line == ""
        command, _ = command_of(
            '<task name="t" path="run \'$HOME\' $HOME ~root $UNSET &quot;$UNSET&quot;" '
            'queue="default"/>')
        assert (command.path, command.args) == ("run", ("$HOME", "/home/evq", "/root", ""))

    def test_globs_expand_from_the_engine_directory(self, tmp_path, monkeypatch):
        for name in ("b.txt", "a.txt"):
            (tmp_path / name).touch()
        monkeypatch.chdir(tmp_path)
        command, _ = command_of('<task name="t" path="/bin/ls *.txt" queue="default"/>')
        assert command.args == ("a.txt", "b.txt")

    @pytest.mark.parametrize("path", [
        "/bin/echo $(echo sub)", "/bin/echo `echo sub`", "/bin/echo $((1+2))",
        "$(echo a) |",
    ])
    def test_command_substitution_is_left_to_the_monitor(self, path):
        command, d = command_of(f'<task name="t" path="{path}" queue="default">'
                                '<input>in</input></task>')
        assert (command.command_line, command.path, command.args) == (path, "", ("in",))
        assert d.task("t").get("status") == "QUEUED"

    @pytest.mark.parametrize("path", [
        "/bin/echo a | wc", "/bin/echo a &lt; b", "/bin/echo a &gt; b", "/bin/echo a; b",
        "/bin/echo a &amp; b", "/bin/echo a&#10;b", "/bin/echo (a)", "/bin/echo {a}",
        "/bin/echo 'open", "", "$UNSET",
    ])
    def test_refused_lines_abort_the_task(self, path):
        d = Driver(make_instance(wf(f'<task name="t" path="{path}" queue="default"/>'),
                                 {"p": "P", "h": "H"})).start()
        assert (d.task("t").get("status"), d.task("t").get("error")) == (
            "ABORTED", "Task execution : Error expanding task command line")
        assert not d.queued and d.root.get("errors") == "1"

    def test_remote_binary_paths_are_expanded_script_paths_are_not(self):
        command, _ = command_of('<task name="t" path="/bin/x $HOME" queue="default" '
                                'host="far" use-agent="yes"/>')
        assert (command.path, command.args, command.host) == ("/bin/x", ("/home/evq",), "far")
        command, _ = command_of('<task name="t" type="SCRIPT" path="a | b" queue="default">'
                                '<script>#!/bin/sh</script></task>')
        assert (command.path, command.args, command.command_line) == ("", (), "")


class TestInputs:
    def test_values_copies_and_modes(self):
        _, d = command_of(
            '<task name="t" path="/x" queue="default">'
            '<input name="a">x<value select="evqGetWorkflowParameter(\'p\')"/>y</input>'
            '<input name="b"><value select="/nothing"/>kept</input>'
            '<input name="c"><copy select="/workflow/parameters"/></input>'
            '<input name="d"><value select="1 div 4"/>,<value select="true()"/></input>'
            '</task>')
        a, b, c, e = d.task("t").iterfind("input")
        assert (a.get("mode"), a.text) == ("text", "xPy")
        assert b.find("value") is not None and "".join(b.itertext()) == "kept"
        assert c.get("mode") == "xml" and c.find("parameters/parameter").text == "P"
        assert "".join(e.itertext()) == "0.250000,1"

    @pytest.mark.parametrize(("select", "text"), [
        ("1 = 1", "1"),
        ("1 = 2", "0"),
        ("1 + 2", "3"),
        ("count(/workflow/parameters/parameter)", "2"),
        ("string-length('abc')", "3"),
        ("7 div 2", "3.500000"),
        ("6 div 2", "3.000000"),
        ("1 div 3", "0.333333"),
        ("0.1 + 0.2", "0.300000"),
        ("1.5 + 1.5", "3.000000"),
        ("1e20", "100000000000000000000.000000"),
        ("-0.5", "-0.500000"),
        ("xs:double('INF')", "inf"),
        ("'text'", "text"),
        ("string(7 div 2)", "3.5"),
        ("evqGetWorkflowParameter('p')", "P"),
    ])
    def test_value_text_is_what_evqueue_writes(self, select: str, text: str):
        command, d = command_of(
            f'<task name="t" path="/x" queue="default"><input name="v"><value select="{select}"/>'
            '</input><stdin><value select="' + select + '"/></stdin></task>')
        assert command.args == (text,)
        assert command.stdin == text.encode()

    def test_input_condition_and_loop_order(self):
        command, d = command_of(
            '<task name="t" path="/x" queue="default">'
            '<input name="a" loop="/workflow/parameters/parameter"><value select="."/></input>'
            '<input name="b">B</input>'
            '<input name="c" condition="false()">C</input></task>')
        # looped inputs are appended after the others (evQueue's order)
        assert command.args == ("B", "P", "H")
        assert d.one("//input[@name='c']").get("status") == "SKIPPED"

    def test_dynamic_host_and_queue_host(self):
        command, d = command_of(
            '<task name="t" path="/x" queue="default" '
            'host="{/workflow/parameters/parameter[@name=\'h\']}.example" '
            'user="{/nothing}" use-agent="yes"/>')
        assert command.host == "H.example"
        assert d.task("t").get("user") == "{/nothing}"  # empty result: left as it is

    def test_dynamic_host_literal_is_an_error(self):
        d = Driver(make_instance(wf('<task name="t" path="/x" queue="default" '
                                    'host="{evqGetWorkflowParameter(\'h\')}"/>'),
                                 {"p": "P", "h": "H"})).start()
        assert d.task("t").get("error") == (
            "Error computing dynamic host : Evaluation result is not a node")
        assert d.ended is not None and d.ended.errors == 1

    def test_bad_value_expression(self):
        d = Driver(make_instance(wf('<task name="t" path="/x" queue="default">'
                                    '<input name="i"><value select="nosuch()"/></input></task>'),
                                 {"p": "P", "h": "H"})).start()
        i = d.one("//input")
        assert i.get("status") == "ABORTED"
        assert i.get("error").startswith("Error computing input value : XPath expression error")
        assert d.job("main").get("status") == "ABORTED"

    def test_evqwait_in_input_condition_is_an_error(self):
        d = Driver(make_instance(wf('<task name="t" path="/x" queue="default">'
                                    '<input condition="evqWait(false())">x</input></task>'),
                                 {"p": "P", "h": "H"})).start()
        assert d.one("//input").get("status") == "ABORTED"

    def test_dynamic_queue(self):
        xml = wf('<task name="t" path="/x" queue="remote" '
                 'queue_host="{/workflow/parameters/parameter[@name=\'h\']}"/>')
        d = Driver(make_instance(xml, {"p": "P", "h": "H"},
                                 queues=(QueueDefinition("remote", 1, dynamic=True),))).start()
        assert d.queued[0].queue == "remote@H"
