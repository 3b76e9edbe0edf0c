"""The engine is the pure state machine and its asyncio driver: it reaches the store, the
processes and everything above it only through its ports (evqueue.engine.ports)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.layers import SOURCE, imported_modules, layer_of, modules_of

#: Layers no module of evqueue.engine may import.
FORBIDDEN = ("storage", "services", "client", "api", "cluster", "server", "cli", "web")


@pytest.mark.parametrize("path", modules_of("engine"), ids=lambda p: p.name)
def test_engine_module_imports_no_storage_and_nothing_above(path: Path) -> None:
    imports = [f"line {line}: {name}" for line, name in imported_modules(path)
               if layer_of(name) in FORBIDDEN]
    assert imports == [], f"{path.relative_to(SOURCE)} imports {imports}"
