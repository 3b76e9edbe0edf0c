"""Every package of evqueue imports only the packages before it (docs/architecture.md), and no
module imports a module that imports it back."""

from __future__ import annotations

import pytest

from tests.layers import (
    LAYERS,
    SOURCE,
    cycles,
    imported_modules,
    layer_of,
    module_graph,
    modules_of,
)

#: Imports that go up the layers on purpose: (file under src/evqueue, layer imported) → why.
KNOWN_EXCEPTIONS = {
    # The web UI is data only (a directory of static files); the websocket/HTTP listener
    # serves it, reading its path from evqueue.web inside a function.
    ("server/ws_server.py", "web"): "the listener serves the web UI's files",
}


def _upward_imports() -> set[tuple[str, str]]:
    found = set()
    for rank, package in enumerate(LAYERS):
        allowed = set(LAYERS[:rank + 1])
        for path in modules_of(package):
            for _, name in imported_modules(path):
                layer = layer_of(name)
                if layer is not None and layer not in allowed:
                    found.add((str(path.relative_to(SOURCE)), layer))
    return found


def test_every_package_imports_only_the_layers_before_it() -> None:
    assert _upward_imports() - KNOWN_EXCEPTIONS.keys() == set()


def test_every_known_exception_is_still_there() -> None:
    assert KNOWN_EXCEPTIONS.keys() <= _upward_imports()


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in SOURCE.iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


@pytest.mark.parametrize(("name", "layer"), [
    ("evqueue.storage.database", "storage"),
    ("evqueue.services", "services"),
    ("evqueue.EVQUEUE_VERSION", None),
    ("evqueue.errors.UnknownCommand", None),  # the error tree: every layer may import it
    ("evqueue.times.format_time", None),  # evQueue's time text: every layer may import it
    ("lxml.etree", None),
])
def test_layer_of_a_dotted_name(name: str, layer: str | None) -> None:
    assert layer_of(name) == layer


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    assert cycles(module_graph()) == []


def test_a_cycle_is_found_however_long() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert cycles(graph) == [["a", "b", "c"]]
