"""The storage exception tree: callers can catch StorageError for any database failure."""

from __future__ import annotations

import pytest

from evqueue.storage.errors import DatabaseUnavailable, DuplicateName, SchemaError, StorageError


@pytest.mark.parametrize("cls", [DuplicateName, DatabaseUnavailable, SchemaError])
def test_every_error_is_a_storage_error(cls: type[StorageError]) -> None:
    assert issubclass(cls, StorageError)
    assert str(cls("duplicate entry 'x'")) == "duplicate entry 'x'"
