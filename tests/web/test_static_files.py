"""The console ships whole: every file index.html and the modules reference exists in the
package, every imported name is exported, nothing is loaded from outside, and the controls
browser tests drive keep their data-testid."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import evqueue.web
from evqueue.web import STATIC_DIR

JS = STATIC_DIR / "js"
IMPORT = re.compile(
    r"""\b(?:import|export)\s+(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\}|\*\s+as\s+[\w$]+)?\s*from\s*['"]([^'"]+)['"]"""
    r"""|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]""", re.M)
EXPORT_DECL = re.compile(r"\bexport\s+(?:async\s+)?(?:function\*?|class|const|let|var)\s+([\w$]+)")
EXPORT_LIST = re.compile(r"\bexport\s*\{([^}]*)\}")

#: data-testid values (or prefixes, for per-name ids) that browser tests rely on.
TEST_IDS = [
    "login-user", "login-password", "login-submit", "login-error", "logout-button",
    "cluster-status", "cluster-banner", "node-row", "launch-button", "launch-dialog",
    "launch-workflow", "launch-param-", "launch-comment", "launch-user", "launch-host",
    "launch-node", "launch-submit", "launch-error", "launch-toast", "executing-panel",
    "executing-row", "terminated-panel", "terminated-row", "instance-cancel", "instance-kill",
    "instance-delete", "instance-details", "instance-tree", "task-row", "task-output",
    "details-cancel", "details-kill", "details-debugresume", "details-relaunch", "details-delete",
    "killtask-button", "tag-input", "filter-form", "filter-apply", "page-next", "editor-xml",
    "editor-error", "editor-save", "editor-name", "editor-structure", "editor-goto-line",
    "workflow-row", "queue-row", "schedule-row", "user-row", "log-row", "config-row", "nav-",
    "variables-table", "variable-row", "variable-new", "variable-edit", "variable-delete",
    "variable-path", "variable-name", "variable-type", "variable-structure", "variable-value",
    "variable-submit", "variable-error", "launchers-table", "launcher-row", "launcher-new",
    "launcher-edit", "launcher-delete", "launcher-name", "launcher-workflow", "launcher-param-",
    "launcher-submit", "displays-table", "display-row", "display-new", "display-edit",
    "display-delete", "display-view-button", "display-view", "display-item", "display-path",
    "display-submit",
]
NAV_IDS = ["instances", "workflows", "schedules", "nodes", "queues", "retry-schedules",
           "notifications", "users", "variables", "launchers", "displays", "logs-engine",
           "logs-api", "logs-notifications", "statistics", "configuration"]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)


def js_files() -> list[Path]:
    return sorted(JS.rglob("*.js"))


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(specifier, imported names) for every import of a module."""
    out = []
    for m in IMPORT.finditer(path.read_text()):
        default, names, spec = m.group(1), m.group(2), m.group(3) or m.group(4) or m.group(5)
        wanted = [] if default is None else ["default"]
        for part in (names or "").split(","):
            part = part.strip()
            if part:
                wanted.append(part.split(" as ")[0].strip())
        out.append((spec, wanted))
    return out


def exports_of(path: Path) -> set[str]:
    text = path.read_text()
    names = set(EXPORT_DECL.findall(text))
    for group in EXPORT_LIST.findall(text):
        names |= {p.split(" as ")[-1].strip() for p in group.split(",") if p.strip()}
    return names


def test_package_exposes_only_the_static_dir() -> None:
    assert evqueue.web.__all__ == ["STATIC_DIR"]
    assert STATIC_DIR.is_dir()
    assert (STATIC_DIR / "index.html").is_file()


def test_index_references_exist_and_are_local() -> None:
    parser = _Refs()
    parser.feed((STATIC_DIR / "index.html").read_text())
    local = [r for r in parser.refs if not r.startswith(("data:", "#"))]
    assert local, "index.html loads nothing"
    for ref in local:
        assert "//" not in ref, f"index.html loads {ref} from outside the engine"
        # The engine serves index.html at / and the folder's files under /static/.
        assert ref.startswith("static/"), ref
        assert (STATIC_DIR / ref.removeprefix("static/")).is_file(), f"missing {ref}"


@pytest.mark.parametrize("module", js_files(), ids=lambda p: str(p.relative_to(JS)))
def test_every_import_resolves_to_an_exported_name(module: Path) -> None:
    for spec, names in imports_of(module):
        assert spec.startswith(("./", "../")), f"{module.name} imports {spec} from outside"
        target = (module.parent / spec).resolve()
        assert target.is_file(), f"{module.name}: {spec} does not exist"
        missing = set(names) - exports_of(target)
        assert not missing, f"{module.name}: {spec} does not export {sorted(missing)}"


def test_every_module_is_reachable_from_the_entry_point() -> None:
    seen: set[Path] = set()
    todo = [JS / "app.js"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += [(module.parent / spec).resolve() for spec, _ in imports_of(module)]
    assert {p.resolve() for p in js_files()} == seen


def test_stylesheet_loads_nothing_from_outside() -> None:
    css = (STATIC_DIR / "css" / "app.css").read_text()
    assert "@import" not in css
    for url in re.findall(r"url\(([^)]*)\)", css):
        assert "//" not in url, url


def test_modules_stay_readable() -> None:
    for module in js_files():
        lines = module.read_text().count("\n")
        assert lines <= 400, f"{module.name} has {lines} lines"
        assert module.read_text().lstrip().startswith("/**"), f"{module.name} has no header comment"


def test_test_ids_are_present() -> None:
    sources = "\n".join(p.read_text() for p in js_files())
    for test_id in TEST_IDS:
        found = re.search(rf"""['"`]{re.escape(test_id)}""", sources)
        assert found, f"data-testid {test_id} is gone"
    app = (JS / "app.js").read_text()
    for nav in NAV_IDS:
        assert f"['{nav}', " in app, f"navigation entry {nav} is gone"
