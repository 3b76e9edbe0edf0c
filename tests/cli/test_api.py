"""``evqueue-api`` against a real node: friendly commands, raw XML, settings, exit codes."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from evqueue.cli.api import main, read_settings, render
from tests.e2e.nodes import Node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    node = Node(tmp_path_factory.mktemp("cli-api")).start()
    yield node
    node.stop()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """No settings from the person running the tests: an empty home, no EVQUEUE_API_*."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for variable in ("EVQUEUE_API_CONNECT", "EVQUEUE_API_USER", "EVQUEUE_API_PASSWORD"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture(params=["tcp", "unix"])
def connect(request, node):
    if request.param == "tcp":
        return f"tcp://127.0.0.1:{node.api_port}"
    return f"unix://{node.socket_path}"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ping(capsys, connect):
    code, out, err = run(capsys, "--connect", connect, "--user", "admin", "--password", "admin",
                         "ping")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["git-support: disabled", out.splitlines()[1], "version: 3.3"]
    assert out.splitlines()[1].startswith("uptime: ")


def test_raw_xml_as_argument_and_on_stdin(capsys, monkeypatch, connect):
    auth = ("--connect", connect, "--user", "admin", "--password", "admin")
    code, out, _ = run(capsys, *auth, "--xml", "<ping/>")
    assert code == 0
    reply = etree.fromstring(out)
    assert (reply.tag, reply.get("status"), reply.get("node")) == ("response", "OK", "node1")
    monkeypatch.setattr(sys, "stdin", io.StringIO("<statistics action='query' type='global'/>"))
    code, out, _ = run(capsys, *auth, "raw")
    assert code == 0 and "current_api_connections: 1" in out.splitlines()


def test_status_configuration_table(capsys, connect):
    code, out, _ = run(capsys, "--connect", connect, "--user", "admin", "--password", "admin",
                       "status", "configuration")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAME", "VALUE"]
    assert ["cluster.node.name", "node1"] in [line.split() for line in lines]


def test_status_configuration_masks_every_password_set_or_not(capsys, node):
    # As evQueue does: the value of a key ending in ".password" is never shown, and an empty
    # one is not told apart either (this node sets none of them).
    code, out, _ = run(capsys, "--connect", f"unix://{node.socket_path}", "--user", "admin",
                       "--password", "admin", "--xml", "status", "configuration")
    assert code == 0
    entries = {entry.get("name"): entry.get("value")
               for entry in etree.fromstring(out).iter("entry")}
    passwords = {name: value for name, value in entries.items() if name.endswith(".password")}
    assert passwords == {"cluster.notify.password": "****", "elog.mysql.password": "****",
                         "git.password": "****", "mysql.password": "****"}


def test_ko_is_exit_1_with_the_error_and_its_code(capsys, connect):
    code, out, err = run(capsys, "--connect", connect, "--user", "admin", "--password", "admin",
                         "<status action='query' type='nosuch'/>")
    assert (code, out) == (1, "")
    assert err == "evqueue-api: Unknown type (UNKNOWN_TYPE)\n"


def test_wrong_password_and_unreachable_node_are_exit_1(capsys, connect, tmp_path):
    code, _, err = run(capsys, "--connect", connect, "--user", "admin", "--password", "x", "ping")
    assert (code, err) == (1, "evqueue-api: Invalid authentication (AUTH_ERROR)\n")
    code, _, err = run(capsys, "--connect", f"unix://{tmp_path}/none", "ping")
    assert code == 1 and err.startswith("evqueue-api: cannot talk to the node: ")


def test_usage_errors_are_exit_2(capsys):
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "--connect", "http://x", "ping")[0:1] == (2,)
    code, _, err = run(capsys, "instance", "launch", "wf", "-p", "novalue")
    assert (code, err) == (2, "evqueue-api: parameter 'novalue' is not NAME=VALUE\n")
    assert run(capsys, "workflow", "create", "--file", "/nonexistent", "--name", "x")[0] == 2
    assert run(capsys)[0] == 2
    assert run(capsys, "--help")[0] == 0


def test_raw_without_xml_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))
    code, _, err = run(capsys, "raw")
    assert (code, err) == (2, "evqueue-api: no XML to send (give it as an argument or on"
                              " standard input)\n")
    monkeypatch.setattr(sys, "stdin", None)
    assert run(capsys, "raw", "-")[0] == 2


def test_settings_from_home_file_then_environment(capsys, monkeypatch, node, tmp_path):
    (tmp_path / ".evqueue.api.conf").write_text(
        f"# my node\napi.connect = 'unix://{node.socket_path}'\napi.user = admin\n"
        "api.password = wrong\n")
    code, _, err = run(capsys, "ping")
    assert (code, err) == (1, "evqueue-api: Invalid authentication (AUTH_ERROR)\n")
    monkeypatch.setenv("EVQUEUE_API_PASSWORD", "admin")
    assert run(capsys, "ping")[0] == 0
    monkeypatch.setenv("EVQUEUE_API_CONNECT", f"tcp://127.0.0.1:{node.api_port}")
    code, out, _ = run(capsys, "--xml", "ping")
    assert code == 0 and 'node="node1"' in out
    assert run(capsys, "--password", "wrong", "ping")[0] == 1, "flags win over everything"


def test_settings_file_errors_are_usage_errors(capsys, tmp_path):
    (tmp_path / ".evqueue.api.conf").write_text("api.port = 5000\n")
    code, _, err = run(capsys, "ping")
    assert code == 2 and ".evqueue.api.conf:1: unknown key 'api.port'" in err


def test_read_settings_order(tmp_path):
    system, home = tmp_path / "system.conf", tmp_path / "home.conf"
    system.write_text("api.connect = tcp://a:1\napi.user = sys\n")
    home.write_text("api.user = me\n")
    settings = read_settings([str(system), str(home), str(tmp_path / "missing")],
                             {"EVQUEUE_API_PASSWORD": "pw"})
    assert settings == {"connect": "tcp://a:1", "user": "me", "password": "pw"}


def test_friendly_commands_build_the_documented_requests(capsys, monkeypatch, tmp_path):
    sent: list[bytes] = []

    class Recorder:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def exec(self, command):
            sent.append(command.serialize())
            return etree.fromstring(b'<response node="n" status="OK"/>')

    monkeypatch.setattr("evqueue.cli.api.Client", Recorder)
    definition = tmp_path / "wf.xml"
    definition.write_bytes(b"<workflow/>")
    for argv in (["workflow", "list"], ["workflow", "get", "7"], ["workflow", "delete", "sleeper"],
                 ["workflow", "create", "--file", str(definition), "--name", "w", "--group", "g"],
                 ["queue", "list"], ["queue", "create", "q", "--concurrency", "2", "--dynamic"],
                 ["queue", "delete", "3"],
                 ["instance", "launch", "w", "-p", "a=1", "-p", "b=x=y", "--sync"],
                 ["instance", "query", "5"], ["instance", "list", "--limit", "2"],
                 ["status", "workflows"]):
        assert main(argv) == 0, argv
    content = base64.b64encode(b"<workflow/>").decode()
    assert sent == [
        b'<workflows action="list"/>',
        b'<workflow action="get" id="7"/>',
        b'<workflow action="delete" name="sleeper"/>',
        f'<workflow action="create" name="w" content="{content}" group="g"/>'.encode(),
        b'<queuepool action="list"/>',
        b'<queue action="create" name="q" concurrency="2" scheduler="default" dynamic="yes"/>',
        b'<queue action="delete" id="3"/>',
        b'<instance action="launch" name="w" mode="synchronous"><parameter name="a" value="1"/>'
        b'<parameter name="b" value="x=y"/></instance>',
        b'<instance action="query" id="5"/>',
        b'<instances action="list" limit="2"/>',
        b'<status action="query" type="workflows"/>',
    ]
    assert main(["queue", "delete", "batch"]) == 2, "queues are deleted by id"


def test_render_tables_and_trees():
    reply = etree.fromstring(
        b'<response node="n" rows="2" status="OK"><workflow id="1" name="a"/>'
        b'<workflow id="22" name="bb" comment="x"/></response>')
    assert render(reply).splitlines() == [
        "rows: 2", "ID  NAME  COMMENT", "1   a", "22  bb    x"]
    tree = etree.fromstring(b'<response node="n" status="OK"><workflow id="6"><subjobs/>'
                            b"</workflow></response>")
    assert render(tree, tree=True) == '<workflow id="6">\n  <subjobs/>\n</workflow>'
    assert render(etree.fromstring(b'<response node="n" status="OK"/>')) == "OK"
    text = etree.fromstring(b'<response gzip="no" node="n" status="OK">raw value</response>')
    assert render(text) == "gzip: no\nraw value"


def test_help_tells_where_the_connection_settings_come_from():
    # The README exports EVQUEUE_API_USER and EVQUEUE_API_PASSWORD: --help must say so.
    script = Path(sys.executable).with_name("evqueue-api")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (0, "")
    settings = result.stdout.split("\nsettings", 1)[1]
    for name in ("EVQUEUE_API_CONNECT", "EVQUEUE_API_USER", "EVQUEUE_API_PASSWORD",
                 "~/.evqueue.api.conf", "/etc/evqueue.api.conf", "api.password"):
        assert name in settings, name


def test_console_script_is_installed(node):
    script = Path(sys.executable).with_name("evqueue-api")
    result = subprocess.run(
        [str(script), "--connect", f"unix://{node.socket_path}", "--user", "admin",
         "--password", "admin", "--xml", "<ping/>"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert etree.fromstring(result.stdout).get("version") == "3.3"
