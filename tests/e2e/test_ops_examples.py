"""The operations examples: systemd units (``examples/systemd``) and Prometheus files
(``examples/monitoring``).

- The units are checked by ``systemd-analyze verify`` (with ExecStart pointed at this tree's
  console script, which the verifier requires to exist), and read as text: ExecStart runs the
  ``evqueue`` console script with flags its parser accepts, and the template unit gives each
  node the login of its instance name (``%i``), which the multi-user configuration turns into
  the node's name and directories.
- The Prometheus files are read with a small parser of the YAML they use (block mappings and
  lists of plain or quoted scalars; PyYAML is not a dependency), and every ``evqueue_*`` metric
  an alert rule names is one a real node exports on ``/metrics``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from evqueue.cli.engine import build_parser
from evqueue.config import load_config
from tests.e2e.enginekit import EngineNode

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "examples" / "systemd"
MONITORING = ROOT / "examples" / "monitoring"
UNITS = ("evqueue.service", "evqueue@.service")
#: Where the units expect the console script.
INSTALLED = "/usr/local/bin/evqueue"
#: Series Prometheus makes itself, not the node.
PROMETHEUS_SERIES = {"up"}


def unit_entries(path: Path) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit file, every value of a key in order."""
    entries: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            entries.setdefault(key.strip(), []).append(value.strip())
    return entries


def console_script() -> Path:
    """This tree's ``evqueue`` console script (next to the running interpreter)."""
    script = Path(sys.executable).parent / "evqueue"
    assert script.exists(), "the evqueue console script is not installed in this environment"
    return script


# --- systemd ------------------------------------------------------------------------------------


def test_the_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    for unit in UNITS:
        # a template is verified as one of its instances
        copy = tmp_path / unit.replace("@.", "@alice.")
        copy.write_text((SYSTEMD / unit).read_text().replace(INSTALLED, str(console_script())))
        if analyze is None:  # no systemd here: the text checks below are all we can do
            assert unit_entries(copy)["ExecStart"]
            continue
        done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True,
                              cwd=tmp_path, timeout=60)
        # verify exits 0 on entries it ignores: any word from it is a problem
        assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), \
            f"{unit}:\n{done.stdout}{done.stderr}"


@pytest.mark.parametrize("unit", UNITS)
def test_execstart_runs_the_console_script_with_flags_it_accepts(unit: str) -> None:
    entries = unit_entries(SYSTEMD / unit)
    [command] = entries["ExecStart"]
    program, *flags = command.split()
    assert program == INSTALLED
    args = build_parser().parse_args(flags)  # exits 2 on an unknown flag
    assert args.config and args.config.startswith("/etc/evqueue/")
    assert not args.daemon  # systemd tracks the foreground process
    assert entries["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_the_template_names_each_node_after_its_instance(tmp_path: Path) -> None:
    entries = unit_entries(SYSTEMD / "evqueue@.service")
    assert "login=%i" in entries["Environment"]
    assert entries["User"] == ["%i"]
    assert "/etc/evqueue/%i.env" in entries["EnvironmentFile"]
    # What the unit's environment makes of the multi-user configuration, for instance "alice"
    environ = {"login": "alice", "port": "5100",
               "cluster": "unix:///data/alice/evqueue.socket,unix:///data/bob/evqueue.socket"}
    cfg = load_config(ROOT / "examples" / "multiuser" / "evqueue.multiuser.conf", environ)
    assert cfg["cluster.node.name"] == "alice"
    assert cfg["core.wd"] == "/data/alice"
    assert cfg["network.bind.path"] == "/data/alice/evqueue.socket"
    assert cfg["ws.bind.port"] == 5100
    assert entries["WorkingDirectory"] == ["/data/%i"]


# --- Prometheus ---------------------------------------------------------------------------------

_KEY = re.compile(r"^([A-Za-z_][\w.]*):(?:\s+(.*))?$")


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text.startswith(("{", "[", "&", "*", "!", "|", ">")):
        raise ValueError(f"unsupported YAML: {text!r}")
    return text


def parse_simple_yaml(text: str) -> object:
    """Block mappings and block lists of scalars, as the monitoring examples are written.

    Raises:
        ValueError: anything else (flow collections, anchors, block scalars, tabs, bad indent).
    """
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        if "\t" in raw:
            raise ValueError(f"line {number}: tab")
        stripped = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if stripped.strip():
            lines.append((len(stripped) - len(stripped.lstrip()), stripped.strip(), number))
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise ValueError(f"line {lines[end][2]}: unexpected indentation")
    return value


def _block(lines: list[tuple[int, str, int]], i: int, indent: int) -> tuple[object, int]:
    if lines[i][1].startswith("- "):
        items: list[object] = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            rest = lines[i][1][2:]
            if _KEY.match(rest):  # "- key: value" opens a mapping indented past the dash
                lines[i] = (indent + 2, rest, lines[i][2])
                item, i = _block(lines, i, indent + 2)
            else:
                item, i = _scalar(rest), i + 1
            items.append(item)
        return items, i
    mapping: dict[str, object] = {}
    while i < len(lines) and lines[i][0] == indent:
        match = _KEY.match(lines[i][1])
        if match is None:
            raise ValueError(f"line {lines[i][2]}: expected 'key: value'")
        key, rest = match.group(1), match.group(2)
        if key in mapping:
            raise ValueError(f"line {lines[i][2]}: duplicate key {key}")
        if rest:
            mapping[key], i = _scalar(rest), i + 1
        elif i + 1 < len(lines) and lines[i + 1][0] >= indent and (
                lines[i + 1][0] > indent or lines[i + 1][1].startswith("- ")):
            mapping[key], i = _block(lines, i + 1, lines[i + 1][0])
        else:
            raise ValueError(f"line {lines[i][2]}: {key} has no value")
    return mapping, i


def test_the_small_yaml_parser_refuses_what_it_does_not_read() -> None:
    assert parse_simple_yaml("a:\n  - b: 'x'\n    c: 2\n  - d\n") == {"a": [{"b": "x", "c": "2"},
                                                                      "d"]}
    for bad in ("a: [1, 2]\n", "a:\n\tb: 1\n", "a: 1\na: 2\n", "a:\n b: 1\n  c: 2\n", "a:\n"):
        with pytest.raises(ValueError):
            parse_simple_yaml(bad)


def test_the_scrape_configuration_reads_metrics_and_loads_the_rules() -> None:
    config = parse_simple_yaml((MONITORING / "prometheus.yml").read_text())
    assert isinstance(config, dict)
    [job] = config["scrape_configs"]
    assert job["job_name"] == "evqueue" and job["metrics_path"] == "/metrics"
    targets = job["static_configs"][0]["targets"]
    assert targets and all(re.fullmatch(r"[\w.-]+:\d+", target) for target in targets)
    for rules in config["rule_files"]:
        assert (MONITORING / rules).exists()


def alert_rules() -> list[dict[str, object]]:
    document = parse_simple_yaml((MONITORING / "evqueue-alerts.yml").read_text())
    assert isinstance(document, dict)
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_rule_is_complete() -> None:
    rules = alert_rules()
    assert rules
    for rule in rules:
        assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        assert rule["expr"] and rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")")


def test_the_alerts_name_metrics_a_node_exports(tmp_path: Path) -> None:
    node = EngineNode(tmp_path / "node")
    try:
        node.start()
        url = f"http://127.0.0.1:{node.ws_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 - local node
            exported = {line.split()[2] for line in reply.read().decode().splitlines()
                        if line.startswith("# TYPE ")}
    finally:
        node.close()
    named = set()
    for rule in alert_rules():
        expression = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", str(rule["expr"]))
        named |= {word for word in re.findall(r"[a-z_][a-z0-9_]*", expression)
                  if word.startswith("evqueue_") or word in PROMETHEUS_SERIES}
    assert named - PROMETHEUS_SERIES, "the rules watch no metric of the node"
    assert named - PROMETHEUS_SERIES <= exported, sorted(named - PROMETHEUS_SERIES - exported)
