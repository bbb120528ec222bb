"""SQLite on the event loop's own thread: aiosqlite's connection, without its thread.

aiosqlite runs every call on a thread of its own: the cursor, the statement, the fetch,
the cursor's close and the commit are each queued to that thread and handed back with
``call_soon_threadsafe``, four to five round trips between two threads per statement.
A statement on a local SQLite file takes tens of microseconds; the round trips cost
more than the work. Measured on the lifecycle benchmark's machine, running every call
where it is awaited took the process's CPU per lifecycle from 0.44-0.50 s to 0.34-0.44 s,
against 0.29-0.35 s for the same flow without AADAP's trail (``benchmarks/README.md``).

The one call that can take long is one that waits for another writer's lock, and that
wait must not block the event loop (Prefect's client, the other flow runs of a worker
run on it). So the connection's own busy timeout is zero: a call that finds the
database locked fails at once, without having done anything, and is made again on a
worker thread that waits up to ``AADAP_DATABASE_SQLITE_BUSY_TIMEOUT_MS`` for the lock.

SQLAlchemy's ``sqlite+aiosqlite`` dialect is used unchanged, through its public
``async_creator`` hook (:func:`creator`); this class keeps aiosqlite's interface
and replaces only where the calls run. It relies on aiosqlite's internals
(``_tx``, ``_connect``, ``_execute``), as SQLAlchemy's dialect itself does, so
``pyproject.toml`` pins aiosqlite to the minor version it was written against.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url

_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused the call because another connection holds a lock."""
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _BUSY


class _RunAtOnce:
    """Stands in for the queue to aiosqlite's thread: runs each call as it is put and
    settles its future before returning (aiosqlite's ``_connect`` and ``stop`` use the
    queue directly, and so does SQLAlchemy's isolation-level setter)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except Exception as exc:
            if future is None:
                raise
            future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the calling thread (see the module)."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], busy_timeout_ms: int) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunAtOnce()  # type: ignore[assignment]
        self._busy_timeout_ms = busy_timeout_ms
        #: calls that found the database locked and waited for it on a worker thread
        self.waits = 0
        self._waiting: asyncio.Future[Any] | None = None

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no thread to start

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self._waiting is not None:
            await _finished(self._waiting)
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
        # Locked: nothing was done. Wait for the lock off the event loop. The connection
        # must never be used from two threads at once (the sqlite3 module would crash),
        # so if the caller is cancelled meanwhile, the call still finishes first, and any
        # other call on this connection waits for it (above).
        self.waits += 1
        self._waiting = asyncio.ensure_future(
            asyncio.to_thread(self._wait_and_call, fn, args, kwargs)
        )
        try:
            return await asyncio.shield(self._waiting)
        except asyncio.CancelledError:
            await _finished(self._waiting)
            raise
        finally:
            if self._waiting.done():
                self._waiting = None

    def _wait_and_call(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        try:
            return fn(*args, **kwargs)
        finally:
            conn.execute("PRAGMA busy_timeout=0")


async def _finished(call: asyncio.Future[Any]) -> None:
    """Wait until ``call`` is done, whatever it returned, even through cancellations: a
    cancellation that arrives meanwhile is raised once it is done."""
    cancelled = False
    while not call.done():
        try:
            await asyncio.wait([call])
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def creator(url: str, busy_timeout_ms: int) -> Callable[[], Awaitable[InlineConnection]]:
    """An ``async_creator`` for ``create_async_engine(url)``: connections that run inline.

    The driver's arguments are the ones the dialect derives from ``url``; the busy
    timeout is taken over as the module describes.
    """
    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    (database,) = args
    options: dict[str, Any] = {**kwargs, "timeout": 0, "check_same_thread": False}

    def open_file() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **options)
        return connection

    async def connect() -> InlineConnection:
        connection = InlineConnection(open_file, busy_timeout_ms)
        await connection
        return connection

    return connect


__all__ = ["InlineConnection", "creator", "is_busy"]
