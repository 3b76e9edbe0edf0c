"""Which real database errors are retried, and what callers get instead of driver errors."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from evqueue.storage.database import Database
from evqueue.storage.errors import DuplicateName, StorageError
from evqueue.storage.tables import t_queue
from evqueue.storage.transactions import (
    BASE_DELAY,
    MAX_DELAY,
    backoff,
    is_transient,
    is_unique_violation,
    translate,
)

pytestmark = pytest.mark.backends


def test_backoff_doubles_up_to_a_cap() -> None:
    assert [backoff(n) for n in range(3)] == [BASE_DELAY, BASE_DELAY * 2, BASE_DELAY * 4]
    assert backoff(30) == MAX_DELAY


async def _driver_error(db: Database, statement: object) -> DBAPIError:
    """Run ``statement`` on the raw engine and return the DBAPIError it raises."""
    async with db.engine.connect() as conn:
        try:
            await conn.execute(statement)  # type: ignore[arg-type]
        except DBAPIError as exc:
            return exc
    raise AssertionError("the statement did not fail")


async def test_unique_violation(db: Database) -> None:
    exc = await _driver_error(
        db, insert(t_queue).values(queue_name="default", queue_concurrency=1)
    )
    assert is_unique_violation(exc)
    assert not is_transient(exc)
    assert isinstance(translate(exc), DuplicateName)


async def test_syntax_error(db: Database) -> None:
    exc = await _driver_error(db, text("SELEC 1"))
    assert not is_unique_violation(exc)
    assert not is_transient(exc)
    translated = translate(exc)
    assert type(translated) is StorageError


async def test_duplicate_surfaces_through_verbs(db: Database) -> None:
    async def work(conn: AsyncConnection) -> None:
        await conn.execute(insert(t_queue).values(queue_name="default", queue_concurrency=1))

    with pytest.raises(DuplicateName) as caught:
        await db.write(work)
    assert isinstance(caught.value.__cause__, DBAPIError)
