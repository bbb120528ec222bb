"""Async engine and session factory built from settings.

SQLite (the embedded default) gets foreign keys on, WAL journaling and a busy
timeout on every connection, and runs its calls on the event loop's thread
(``sqlite_inline``); PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, Table, event, insert, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from aadap.core.config import Settings, mask_url
from aadap.core.exceptions import DatabaseUnavailableError
from aadap.db import sqlite_inline


def _sqlite_path(url: str) -> Path | None:
    _, _, rest = url.partition(":///")
    if not rest or rest.startswith(":memory:"):
        return None
    return Path(rest.split("?", 1)[0])


def _make_folder(url: str) -> None:
    """The folder of a SQLite database file, created if missing."""
    path = _sqlite_path(url) if url.startswith("sqlite") else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def create_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    """Build the application's async engine (no connection is opened yet)."""
    url = url or settings.database_url
    db = settings.database
    if url.startswith("sqlite"):
        _make_folder(url)
        # Pooled: a new SQLite connection costs three PRAGMAs, and a lifecycle commits
        # a few dozen times. WAL lets the pooled connections read while another writes;
        # the busy timeout serialises writers.
        # Each connection runs its calls on the event loop's thread, and waits for a
        # locked database on a worker thread (``sqlite_inline``).
        engine = create_async_engine(
            url,
            echo=db.echo,
            pool_size=db.pool_size,
            async_creator=sqlite_inline.creator(url, db.sqlite_busy_timeout_ms),
            pool_reset_on_return=None,  # see _rollback_if_open
        )

        @event.listens_for(engine.sync_engine, "reset")
        def _rollback_if_open(dbapi_conn: Any, _record: Any, state: Any) -> None:
            """Roll back a returned connection only if it is inside a transaction. The pool's
            own reset rolls back every connection a session returns, even one whose
            transaction was just committed: one call into SQLite per transaction and per
            read, for nothing."""
            driver = getattr(dbapi_conn, "driver_connection", None) or dbapi_conn
            if state.asyncio_safe and getattr(driver, "in_transaction", True):
                dbapi_conn.rollback()

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_async_engine(
        url,
        echo=db.echo,
        pool_size=db.pool_size,
        connect_args={"connect_timeout": int(db.connect_timeout_seconds)},
    )
    _ping_after_idle(engine, db.ping_after_idle_seconds)
    return engine


def _ping_after_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Test a pooled connection before reuse only once it has sat idle ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` tests it on every checkout: one extra round trip per
    transaction and per read, about fifty per lifecycle, to guard against a server that
    went away. A connection checked in moments ago is as good as the last statement it
    ran, so the ping is kept for the idle ones (a restarted server, a proxy's idle
    timeout) and the pool replaces a connection that fails it, as ``pool_pre_ping`` does.
    """
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or used moments ago
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as exc:
            # the pool discards this connection and checks out (or opens) another
            raise DisconnectionError(f"a pooled connection failed its ping: {exc}") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def check_connection(engine: AsyncEngine) -> None:
    """Open one connection; raise ``DatabaseUnavailableError`` naming the (masked) URL."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (OperationalError, DBAPIError, OSError) as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to the database at {mask_url(engine.url.render_as_string(hide_password=False))}"
            f" (AADAP_DATABASE_URL): {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
        ) from exc


_EngineKey = tuple[str, bool, int, int, float, float]
#: engines whose connections were closed by :meth:`Database.dispose`, kept for the next
#: Database on the same URL and options (see :func:`_take_engine`)
_IDLE_ENGINES: dict[_EngineKey, list[AsyncEngine]] = {}
_IDLE_LOCK = threading.Lock()
_IDLE_PER_KEY = 4


def _engine_key(settings: Settings, url: str) -> _EngineKey:
    db = settings.database
    return (
        url,
        db.echo,
        db.pool_size,
        db.sqlite_busy_timeout_ms,
        db.connect_timeout_seconds,
        db.ping_after_idle_seconds,
    )


def _take_engine(settings: Settings, url: str) -> AsyncEngine:
    """An engine for ``url``: one a disposed :class:`Database` gave back, else a new one.

    A lifecycle run outside a bound runtime builds its own ``Database`` and disposes it
    at the end (``orchestration.runtime.open_runtime``): its connections belong to the
    run's event loop and must close with it. The engine object itself is not tied to a
    loop and holds what is costly to rebuild: the dialect, initialised on its first
    connection, and the compiled-statement cache. A new engine per run compiled every
    statement of the lifecycle again, 29 compilations measured, a fifth of AADAP's CPU
    per lifecycle. So :meth:`Database.dispose` closes the connections (the pool is
    replaced by an empty one) and gives the engine back; the next ``Database`` on the
    same URL and options takes it. One engine serves one ``Database`` at a time, so no
    pool is shared between event loops.
    """
    key = _engine_key(settings, url)
    with _IDLE_LOCK:
        idle = _IDLE_ENGINES.get(key)
        recycled = idle.pop() if idle else None
    if recycled is None:
        return create_engine(settings, url=url)
    _make_folder(url)  # as create_engine does: the folder may have gone in between
    return recycled


def _give_back(settings: Settings, url: str, engine: AsyncEngine) -> None:
    key = _engine_key(settings, url)
    with _IDLE_LOCK:
        idle = _IDLE_ENGINES.setdefault(key, [])
        if len(idle) < _IDLE_PER_KEY:
            idle.append(engine)


_INSERTS: dict[Table, Executable] = {}


def _insert_into(table: Table) -> Executable:
    statement = _INSERTS.get(table)
    if statement is None:
        statement = _INSERTS[table] = insert(table)
    return statement


class Database:
    """The engine and session factory a process uses; built once by the entrypoint.

    Write-behind for trail rows: :meth:`defer` queues statements that need not commit
    on their own (hook log rows, cost-row settlement, mirrored run logs); the next
    :meth:`transaction` runs them first and commits them with its own work, and
    :meth:`flush_deferred` commits them alone where nothing else will follow (before
    a pause, at the end of a run). A lifecycle step then costs one transaction fewer
    per hook. What a deferred row may lose is bounded: a process killed with
    ``kill -9`` loses the statements queued since its last commit, which are only
    ever trail rows that reconcile replaces (state transitions, artifacts and every
    LLM call's cost row are committed at once, never deferred).
    """

    def __init__(self, settings: Settings, *, url: str | None = None) -> None:
        self.settings = settings
        self._url = url or settings.database_url
        self.engine = _take_engine(settings, self._url)
        self._disposed = False
        self._writes = session_factory(self.engine)
        #: sessions for reading: in autocommit, so a read costs no BEGIN and ROLLBACK
        #: round trips (about a third of a lifecycle's statements were those); every
        #: write goes through :meth:`transaction`, except a write that is one statement,
        #: atomic by itself, on PostgreSQL (``costs.record_llm_call``)
        self.sessions = session_factory(self.engine.execution_options(isolation_level="AUTOCOMMIT"))
        self._deferred: list[tuple[Executable, dict[str, Any] | None]] = []
        self._rows: dict[Table, list[dict[str, Any]]] = {}

    def defer(self, statement: Executable, params: dict[str, Any] | None = None) -> None:
        """Queue a statement (with its parameters) for the next transaction (see the class
        docstring)."""
        self._deferred.append((statement, params))

    def defer_rows(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """Queue rows to insert into ``table`` with the next transaction; all rows queued
        for one table go in one multi-row INSERT, after the queued statements."""
        if rows:
            self._rows.setdefault(table, []).extend(rows)

    @property
    def pending(self) -> int:
        """How many deferred statements and rows wait for the next transaction."""
        return len(self._deferred) + sum(len(rows) for rows in self._rows.values())

    def take_deferred(self) -> list[tuple[Executable, Any, Table | None]]:
        """The queue, emptied, for a caller that commits it (and gives it back with
        :meth:`requeue` if it does not): ``(statement, params, None)`` for each queued
        statement, then ``(INSERT, rows, table)`` for each table's rows, an executemany
        of an INSERT built once per table (a multi-row ``VALUES`` would be compiled anew
        for every batch, as its shape changes with the number of rows)."""
        taken: list[tuple[Executable, Any, Table | None]] = [
            (statement, params, None) for statement, params in self._deferred
        ]
        taken += [(_insert_into(t), rows, t) for t, rows in self._rows.items()]
        self._deferred, self._rows = [], {}
        return taken

    def requeue(self, taken: list[tuple[Executable, Any, Table | None]]) -> None:
        """Put what :meth:`take_deferred` returned back at the head of the queue."""
        self._deferred[:0] = [(statement, params) for statement, params, t in taken if t is None]
        for _, rows, table in taken:
            if table is not None:
                self._rows[table] = rows + self._rows.get(table, [])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        Deferred statements run first. If the caller's part fails they go back to the
        queue for the next transaction; if one of them fails, the error propagates
        (they are dropped: retrying a statement that cannot succeed would fail every
        later transaction).
        """
        taken = self.take_deferred()
        ran = False
        try:
            async with self._writes() as session, session.begin():
                for statement, params, _ in taken:
                    await session.execute(statement, params)
                ran = True
                yield session
        except BaseException:
            if ran:
                self.requeue(taken)
            raise

    async def flush_deferred(self) -> None:
        """Commit the deferred statements now, in a transaction of their own; on
        PostgreSQL, rows of one table and nothing else go in one multi-row INSERT in
        autocommit, atomic by itself: one round trip where BEGIN and COMMIT made three
        (the end of every lifecycle run flushes its last log rows this way)."""
        if not self.pending:
            return
        if not self._deferred and len(self._rows) == 1 and self.engine.dialect.name != "sqlite":
            # as in :meth:`transaction`, a queued statement that fails is dropped
            [(_, rows, table)] = self.take_deferred()
            assert table is not None
            async with self.sessions() as session:
                await session.execute(insert(table).values(rows))
            return
        async with self.transaction():
            pass

    async def dispose(self) -> None:
        """Close every pooled connection; the engine goes back for the next ``Database``
        on the same URL (:func:`_take_engine`). Do not use this ``Database`` afterwards."""
        await self.engine.dispose()
        if not self._disposed:
            self._disposed = True
            _give_back(self.settings, self._url, self.engine)


__all__ = ["Database", "check_connection", "create_engine", "session_factory"]
