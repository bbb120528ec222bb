"""The database layer's connection handling on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from aadap.core.enums import LogLevel
from aadap.db.models import TaskLog
from aadap.db.session import Database
from aadap.services import logs
from tests.conftest import settings_for

pytestmark = pytest.mark.postgres


async def _backend_pid(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _terminate(url: str, pid: int) -> None:
    """Kill the server side of a pooled connection, from a connection of its own."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


async def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(
    postgres_url: str, tmp_path: Path
) -> None:
    db = Database(settings_for(postgres_url, tmp_path, database={"ping_after_idle_seconds": 0}))
    try:
        pid = await _backend_pid(db)
        _terminate(postgres_url, pid)
        # the killed connection is back in the pool; the ping finds it dead and the
        # pool opens a new one: the caller never sees the dead connection
        assert await _backend_pid(db) != pid
    finally:
        await db.dispose()


async def test_a_connection_used_moments_ago_is_not_pinged(
    postgres_url: str, tmp_path: Path
) -> None:
    """No ping round trip for a connection reused within the threshold: the next
    statement goes straight to the server (shown by it meeting the dead connection)."""
    db = Database(settings_for(postgres_url, tmp_path, database={"ping_after_idle_seconds": 3600}))
    try:
        pid = await _backend_pid(db)
        _terminate(postgres_url, pid)
        with pytest.raises(OperationalError):
            await _backend_pid(db)
        assert await _backend_pid(db) != pid  # the pool dropped it after the failure
    finally:
        await db.dispose()


async def _log_rows(db: Database) -> list[str]:
    async with db.sessions() as session:
        rows = await session.execute(select(TaskLog.message).order_by(TaskLog.message))
        return list(rows.scalars())


def _queue(db: Database, *messages: str) -> None:
    logs.defer(
        db,
        [logs.build(level=LogLevel.INFO, event="test", message=m, source="test") for m in messages],
    )


async def test_deferred_rows_commit_with_the_next_transaction_and_survive_its_failure(
    db: Database,
) -> None:
    _queue(db, "a", "b")
    assert db.pending == 2 and await _log_rows(db) == []  # queued, not written
    with pytest.raises(RuntimeError):
        async with db.transaction():
            raise RuntimeError("the caller's own work fails")
    assert db.pending == 2  # rolled back with it, and queued again
    _queue(db, "c")
    async with db.transaction():
        pass
    assert db.pending == 0
    assert await _log_rows(db) == ["a", "b", "c"]
    _queue(db, "d")
    await db.flush_deferred()
    assert await _log_rows(db) == ["a", "b", "c", "d"]
