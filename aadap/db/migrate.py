"""Run the Alembic chain from code (``aadap db …``, tests, ``aadap run``'s first start)."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from aadap.core import locks
from aadap.core.exceptions import DatabaseUnavailableError, MissingConfigurationError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# Alembic is imported where it is used: a read command (``aadap tasks list``) only checks
# that the database is at HEAD_REVISION, one query, and importing Alembic costs ~0.4 s.

#: the chain's single head; a new revision updates it (tests/db/test_migrations.py checks
#: it against Alembic's own reading of the chain)
HEAD_REVISION = "0004"

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_dir() -> Path:
    path = _PROJECT_ROOT / "alembic"
    if not (path / "env.py").is_file():
        raise MissingConfigurationError(
            f"the Alembic migrations were not found at {path}; install AADAP from its source tree "
            "with `pip install -e .` so the alembic/ folder ships beside the package"
        )
    return path


def alembic_config(url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = (
        Config(str(_PROJECT_ROOT / "alembic.ini"))
        if (_PROJECT_ROOT / "alembic.ini").is_file()
        else Config()
    )
    cfg.set_main_option("script_location", str(alembic_dir()))
    if url:
        cfg.attributes["database_url"] = url
    return cfg


def script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The chain's single head (:data:`HEAD_REVISION`)."""
    return HEAD_REVISION


def _run(connection: Connection, action: Literal["upgrade", "downgrade"], revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    if action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


_MIGRATION_LOCK = 715_417  # any constant shared by every AADAP process


#: engines this process has seen at head (engines are recycled per URL and options, see
#: ``aadap.db.session``): every lifecycle run outside a bound runtime calls
#: :func:`ensure_schema`, and a database does not fall behind the code running on it
#: unless someone downgrades it, which :func:`downgrade` in this process notes
_AT_HEAD: weakref.WeakSet[Engine] = weakref.WeakSet()


#: how long a process waits for another one's migration of the same SQLite file
SQLITE_LOCK_TIMEOUT_SECONDS = 300.0


@contextlib.asynccontextmanager
async def _sqlite_file_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Several processes may start on a fresh SQLite file at once (two commands on a new
    ``AADAP_HOME``): one migrates, the others wait. SQLite has no advisory lock, and its
    deferred transactions let two migrations both find no table and both create it, so
    the lock is a file beside the database (:mod:`aadap.core.locks`)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database.startswith(":memory:"):
        yield
        return
    async with contextlib.AsyncExitStack() as stack:
        try:
            await stack.enter_async_context(
                locks.hold_async(Path(database), wait=SQLITE_LOCK_TIMEOUT_SECONDS)
            )
        except TimeoutError as exc:
            raise DatabaseUnavailableError(
                f"another process has been migrating {database} for over "
                f"{SQLITE_LOCK_TIMEOUT_SECONDS:g}s; try again when it has finished",
                details={"database": database},
            ) from exc
        yield


async def _sqlite_wal(engine: AsyncEngine) -> None:
    """Put a SQLite file in WAL mode, which the file keeps for every later connection.

    Called under :func:`_sqlite_file_lock`: switching the journal mode needs the file to
    itself, and when two connections ask for it together SQLite answers one of them
    "database is locked" at once, without waiting out the busy timeout. Done on every
    connect, it now and then failed one of six ``aadap run`` started on a fresh home.
    """
    if engine.dialect.name != "sqlite":
        return
    async with engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA journal_mode=WAL")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    _AT_HEAD.discard(engine.sync_engine)
    async with _sqlite_file_lock(engine):
        await _sqlite_wal(engine)
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # several workers may start on a fresh database at once: one migrates,
                # the others wait
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            await conn.run_sync(_run, "upgrade", revision)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    _AT_HEAD.discard(engine.sync_engine)
    async with _sqlite_file_lock(engine), engine.begin() as conn:
        await conn.run_sync(_run, "downgrade", revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def ensure_schema(engine: AsyncEngine) -> str | None:
    """Upgrade to head if the database is behind; return the revision before.

    Every lifecycle run calls this, so the common case (already at head) is one plain
    query, and none once this process saw the engine's database at head; Alembic's
    migration context is only built when that query is not conclusive.
    """
    if engine.sync_engine in _AT_HEAD:
        return head_revision()
    try:
        async with engine.connect() as conn:
            found = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except DBAPIError:
        found = []  # no version table yet (a new database): let Alembic decide
    if [row[0] for row in found] == [head_revision()]:
        _AT_HEAD.add(engine.sync_engine)
        return found[0][0]  # type: ignore[no-any-return]
    before = await current_revision(engine)
    if before != head_revision():
        await upgrade(engine)
    _AT_HEAD.add(engine.sync_engine)
    return before
