"""Async engine and session factory built from settings.

SQLite (the embedded default) goes through aiosqlite, with foreign keys on and a busy
timeout on every connection (WAL journaling is set once, by the migration that creates
the file: :func:`aadap.db.migrate.upgrade`); PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from aadap.core.config import Settings, mask_url
from aadap.core.exceptions import DatabaseUnavailableError


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
        # Pooled: a new SQLite connection costs two PRAGMAs. WAL (set by the migration,
        # and kept by the file) lets the pooled connections read while another writes;
        # the busy timeout serialises writers (aiosqlite waits for a lock on its own
        # thread, not on the event loop).
        engine = create_async_engine(
            url,
            echo=db.echo,
            pool_size=db.pool_size,
            connect_args={"timeout": db.sqlite_busy_timeout_ms / 1000},
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
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
    at the end (``orchestration.bound_runtime.open_runtime``): its connections belong to the
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


class Database:
    """The engine and session factory a process uses; built once by the entrypoint."""

    def __init__(self, settings: Settings, *, url: str | None = None) -> None:
        self.settings = settings
        self._url = url or settings.database_url
        self.engine = _take_engine(settings, self._url)
        self._disposed = False
        self._writes = session_factory(self.engine)
        #: sessions for reading: in autocommit, so a read costs no BEGIN and ROLLBACK
        #: round trips; every write goes through :meth:`transaction`
        self.sessions = session_factory(self.engine.execution_options(isolation_level="AUTOCOMMIT"))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self._writes() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection; the engine goes back for the next ``Database``
        on the same URL (:func:`_take_engine`). Do not use this ``Database`` afterwards."""
        await self.engine.dispose()
        if not self._disposed:
            self._disposed = True
            _give_back(self.settings, self._url, self.engine)


__all__ = ["Database", "check_connection", "create_engine", "session_factory"]
