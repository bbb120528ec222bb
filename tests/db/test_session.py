"""The database layer's connection handling on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

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


async def test_log_rows_commit_when_written_and_a_refused_row_writes_none_of_the_others(
    db: Database,
) -> None:
    """``logs.write`` commits at once (another session sees the rows), all or none: a row
    the database refuses fails the write and leaves none of the others behind."""
    rows = [
        logs.entry(level=LogLevel.INFO, event="test", message=f"m{i:04}", source="test")
        for i in range(2500)
    ]
    assert await logs.write(db, rows) == 2500
    assert len(await _log_rows(db)) == 2500
    bad = {
        **logs.entry(level=LogLevel.INFO, event="test", message="bad", source="test"),
        "level": "LOUD",
    }
    good = logs.entry(level=LogLevel.INFO, event="test", message="good", source="test")
    with pytest.raises(IntegrityError):
        await logs.write(db, [good, bad])
    assert len(await _log_rows(db)) == 2500


# --- engines are recycled, connections are not ------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def any_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'recycled' / 'app.db'}"
    return str(request.getfixturevalue("postgres_url"))


async def test_a_disposed_database_hands_its_engine_to_the_next_one_without_its_connections(
    any_url: str, tmp_path: Path
) -> None:
    """What a lifecycle run outside a bound runtime relies on: the next run's ``Database``
    starts with the compiled statements of the last one, and none of its connections
    (they belonged to that run's event loop)."""
    settings = settings_for(any_url, tmp_path)
    first = Database(settings)
    async with first.transaction() as session:
        await session.execute(text("SELECT 1"))
    compiled = len(first.engine.sync_engine._compiled_cache or {})
    assert compiled > 0 and first.engine.sync_engine.pool.checkedin() == 1
    await first.dispose()
    assert first.engine.sync_engine.pool.checkedin() == 0  # closed, not kept

    second = Database(settings)
    try:
        assert second.engine is first.engine
        assert len(second.engine.sync_engine._compiled_cache or {}) == compiled
        async with second.transaction() as session:  # a fresh connection, in this loop
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        # a Database alive at the same time never shares that engine (nor its pool)
        third = Database(settings)
        try:
            assert third.engine is not second.engine
        finally:
            await third.dispose()
        # nor does one built with other options
        other = Database(settings_for(any_url, tmp_path, database={"pool_size": 2}))
        try:
            assert other.engine is not second.engine
        finally:
            await other.dispose()
    finally:
        await second.dispose()
    await second.dispose()  # a second dispose gives nothing back twice
    after = [Database(settings), Database(settings)]
    try:
        assert after[0].engine is second.engine and after[1].engine is not second.engine
    finally:
        for db in after:
            await db.dispose()


async def test_a_recycled_sqlite_engine_recreates_a_folder_removed_in_between(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "home" / "db"
    url = f"sqlite+aiosqlite:///{folder / 'app.db'}"
    settings = settings_for(url, tmp_path)
    first = Database(settings)
    async with first.transaction() as session:
        await session.execute(text("SELECT 1"))
    await first.dispose()
    folder.joinpath("app.db").unlink()
    folder.rmdir()
    second = Database(settings)
    try:
        assert second.engine is first.engine
        async with second.transaction() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await second.dispose()


async def test_a_sqlite_connection_returned_inside_a_transaction_is_rolled_back(
    tmp_path: Path,
) -> None:
    """The pool skips the rollback of a returned SQLite connection that holds no
    transaction (a committed one); one that does hold one is still rolled back, so the
    next user neither sees its writes nor waits on its write lock."""
    db = Database(settings_for(f"sqlite+aiosqlite:///{tmp_path / 'app.db'}", tmp_path))
    try:
        async with db.transaction() as session:
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute("INSERT INTO t VALUES (1)")  # type: ignore[union-attr]
            assert raw.driver_connection.in_transaction  # type: ignore[union-attr]
        async with db.transaction() as session:  # the write lock is free again
            await session.execute(text("INSERT INTO t VALUES (2)"))
        async with db.sessions() as session:
            assert list((await session.execute(text("SELECT x FROM t"))).scalars()) == [2]
    finally:
        await db.dispose()
