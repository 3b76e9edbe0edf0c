"""evqueue.protocol re-exports the public names of its modules, and the error tree."""

from __future__ import annotations

import importlib

import evqueue.protocol

#: The error tree and the time text live in evqueue.errors and evqueue.times, shared by every
#: layer; the protocol re-exports them, so that ``from evqueue.protocol import UnknownCommand``
#: keeps working for clients.
MODULES = ["evqueue.errors", "evqueue.times", *(f"evqueue.protocol.{name}" for name in (
    "auth", "connstr", "framing", "messages", "response"))]


def test_package_exports_every_public_name() -> None:
    expected: set[str] = set()
    for name in MODULES:
        module = importlib.import_module(name)
        for public in module.__all__:
            assert getattr(evqueue.protocol, public) is getattr(module, public)
        expected.update(module.__all__)
    assert set(evqueue.protocol.__all__) == expected
