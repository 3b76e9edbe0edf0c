"""The layers of the evqueue package, and the evqueue modules a source file imports.

A package imports only the packages before it in :data:`LAYERS` (docs/architecture.md); the
checks walk the source's AST, so imports inside functions and under ``TYPE_CHECKING`` count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import evqueue

__all__ = ["LAYERS", "SOURCE", "cycles", "imported_modules", "layer_of", "module_graph",
           "modules_of"]

#: The packages, bottom first.
LAYERS = ("config", "protocol", "model", "storage", "process", "engine", "services", "client",
          "api", "cluster", "server", "cli", "plugins", "web")
#: src/evqueue.
SOURCE = Path(evqueue.__file__).resolve().parent


def modules_of(package: str) -> list[Path]:
    """The source files of a package of evqueue, sorted."""
    return sorted((SOURCE / package).rglob("*.py"))


def _package_of(path: Path) -> str:
    """The dotted package a source file belongs to (for relative imports)."""
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts if path.name == "__init__.py" else parts[:-1])


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of every evqueue module or name a source file imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = _package_of(path).split(".")
                package = package[:len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:  # ``from evqueue import storage`` imports a package
                yield node.lineno, f"{base}.{alias.name}"


def layer_of(name: str) -> str | None:
    """The layer of a dotted name (``evqueue.storage.database`` → ``storage``); None outside
    the layers (other libraries, the ``evqueue`` package's own names)."""
    parts = name.split(".")
    if parts[0] != "evqueue" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return parts[1]


def module_graph() -> dict[str, set[str]]:
    """Each module of evqueue → the evqueue modules it imports (a package's own ``__init__``
    left out: a module of a package may import the names its package re-exports)."""
    paths = {}
    for path in SOURCE.rglob("*.py"):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        paths[".".join(parts[:-1] if path.name == "__init__.py" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        graph[name] = set()
        for _, imported in imported_modules(path):
            parts = imported.split(".")
            module = next((".".join(parts[:i]) for i in range(len(parts), 0, -1)
                           if ".".join(parts[:i]) in paths), None)
            if module is not None and module != name and not name.startswith(module + "."):
                graph[name].add(module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (each as its sorted modules), as a depth-first walk
    meets them."""
    found: dict[tuple[str, ...], list[str]] = {}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = sorted(path[path.index(node):])
            found[tuple(cycle)] = cycle
            return
        if node in done:
            return
        path.append(node)
        for imported in sorted(graph[node]):
            visit(imported, path)
        path.pop()
        done.add(node)

    for start in sorted(graph):
        visit(start, [])
    return sorted(found.values())
