"""SQLite calls run on the event loop's thread; waiting for another writer's lock does not.

Real SQLite files under ``tmp_path``; the other writer is a plain ``sqlite3`` connection
holding the write lock (``BEGIN IMMEDIATE``), as another AADAP process would.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from aadap.db.session import Database
from aadap.db.sqlite_inline import InlineConnection
from tests.conftest import settings_for


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"
    database = Database(settings_for(url, tmp_path, database={"sqlite_busy_timeout_ms": 1500}))
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE items (n INTEGER NOT NULL)"))
    try:
        yield database
    finally:
        await database.dispose()


@contextmanager
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock until it commits."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        if other.in_transaction:
            other.execute("ROLLBACK")
        other.close()


async def _driver(db: Database) -> InlineConnection:
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver = raw.driver_connection
        assert isinstance(driver, InlineConnection)
        return driver


async def _insert(db: Database, n: int) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO items (n) VALUES (:n)"), {"n": n})


async def _count(db: Database) -> int:
    async with db.sessions() as session:
        return int((await session.execute(text("SELECT count(*) FROM items"))).scalar_one())


async def _ticks_while(work: asyncio.Future[object], every: float = 0.01) -> int:
    """How many times a coroutine got the event loop while ``work`` ran."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(every)
        ticks += 1
    return ticks


async def test_statements_run_on_the_event_loops_thread(db: Database) -> None:
    seen: set[int] = set()
    driver = await _driver(db)
    await driver.create_function("whose_thread", 0, lambda: seen.add(threading.get_ident()) or 1)
    async with db.sessions() as session:
        assert (await session.execute(text("SELECT whose_thread()"))).scalar_one() == 1
    assert seen == {threading.get_ident()}
    assert driver._thread.ident is None  # aiosqlite's thread was never started


async def test_a_write_waits_for_another_writers_lock_without_blocking_the_loop(
    db: Database, tmp_path: Path
) -> None:
    driver = await _driver(db)
    with write_lock(tmp_path / "inline.db") as other:
        asyncio.get_running_loop().call_later(0.4, other.execute, "COMMIT")

        started = time.perf_counter()
        work = asyncio.ensure_future(_insert(db, 1))
        ticks = await _ticks_while(work)
        await work
        waited = time.perf_counter() - started
    assert waited >= 0.35  # it did wait for the other writer's commit
    assert ticks >= 15  # and the loop kept running meanwhile (about 40 at 10 ms)
    assert driver.waits == 1
    assert await _count(db) == 1
    async with db.sessions() as session:  # the wait's own timeout is not left behind
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() == 0


async def test_a_lock_held_past_the_busy_timeout_fails_and_writes_nothing(
    db: Database, tmp_path: Path
) -> None:
    with write_lock(tmp_path / "inline.db"):
        started = time.perf_counter()
        work = asyncio.ensure_future(_insert(db, 1))
        ticks = await _ticks_while(work)
        with pytest.raises(OperationalError, match="database is locked"):
            await work
        waited = time.perf_counter() - started
    assert 1.4 <= waited < 2.5  # AADAP_DATABASE_SQLITE_BUSY_TIMEOUT_MS=1500, then the error
    assert ticks >= 50
    assert await _count(db) == 0
    await _insert(db, 2)  # the pool's connections are still usable
    assert await _count(db) == 1


async def test_a_cancelled_wait_finishes_before_the_connection_is_used_again(
    db: Database, tmp_path: Path
) -> None:
    with write_lock(tmp_path / "inline.db") as other:
        work = asyncio.ensure_future(_insert(db, 1))
        await asyncio.sleep(0.2)  # waiting for the lock by now
        asyncio.get_running_loop().call_later(0.2, other.execute, "COMMIT")
        work.cancel()
        with pytest.raises(asyncio.CancelledError):
            await work
    assert await _count(db) == 0  # the cancelled transaction was rolled back, not committed
    await _insert(db, 2)
    assert await _count(db) == 1
