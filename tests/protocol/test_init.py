"""evqueue.protocol re-exports the public names of its modules."""

from __future__ import annotations

import importlib

import evqueue.protocol

MODULES = ["auth", "connstr", "errors", "framing", "messages", "response", "times"]


def test_package_exports_every_public_name() -> None:
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(f"evqueue.protocol.{name}")
        for public in module.__all__:
            assert getattr(evqueue.protocol, public) is getattr(module, public)
        expected.update(module.__all__)
    assert set(evqueue.protocol.__all__) == expected
