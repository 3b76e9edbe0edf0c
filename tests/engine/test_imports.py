"""The engine is the pure state machine and its asyncio driver: it reaches the store, the
processes and everything above it only through its ports (evqueue.engine.ports), and it does
not speak the XML API: its errors are those of evqueue.errors, not of evqueue.protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import SOURCE, imported_modules, layer_of, modules_of

#: Layers no module of evqueue.engine may import.
FORBIDDEN = ("protocol", "storage", "services", "client", "api", "cluster", "server", "cli", "web")
#: Modules of a forbidden layer the engine still imports → why (none today).
ALLOWED: dict[str, str] = {}


def _forbidden(name: str) -> bool:
    return layer_of(name) in FORBIDDEN and not any(
        name == module or name.startswith(module + ".") for module in ALLOWED)


@pytest.mark.parametrize("path", modules_of("engine"), ids=lambda p: p.name)
def test_engine_module_imports_no_storage_and_nothing_above(path: Path) -> None:
    imports = [f"line {line}: {name}" for line, name in imported_modules(path)
               if _forbidden(name)]
    assert imports == [], f"{path.relative_to(SOURCE)} imports {imports}"


@pytest.mark.parametrize(("name", "forbidden"), [
    ("evqueue.protocol.errors.ApiError", True),
    ("evqueue.protocol.response.Response", True),
    ("evqueue.protocol", True),
    ("evqueue.storage.database.Database", True),
    ("evqueue.times.format_time", False),
    ("evqueue.attributes.parse_cxx_bool", False),
    ("evqueue.errors.UnknownInstance", False),
    ("evqueue.model.xpath.evaluate_nodes", False),
])
def test_what_the_engine_may_not_import(name: str, forbidden: bool) -> None:
    assert _forbidden(name) is forbidden
