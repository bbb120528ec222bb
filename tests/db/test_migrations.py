"""The Alembic chain: one head, contiguous, round-trips, and matches the models."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Integer, String, Uuid, column, event, inspect, select, table, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from aadap.db import migrate, models
from aadap.db.models import Base
from aadap.db.session import create_engine
from aadap.db.types import ExactDecimal, UTCDateTime
from tests.conftest import settings_for, throwaway_postgres_database


def test_single_head_and_contiguous_chain() -> None:
    script = migrate.script()
    assert script.get_heads() == [migrate.HEAD_REVISION]  # the constant read commands check
    assert len(script.get_bases()) == 1
    revisions = list(script.walk_revisions())  # head -> base; raises on a broken link
    ids = {rev.revision for rev in revisions}
    for rev in revisions:
        assert rev.down_revision is None or rev.down_revision in ids, rev.revision
        assert rev.module.__file__ is not None
        assert Path(rev.module.__file__).name.startswith(rev.revision + "_"), (
            "file name must start with its id"
        )
    assert revisions[-1].down_revision is None


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (not the suite's shared, already-migrated one)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"
        return
    with throwaway_postgres_database() as url:
        yield url


async def _drift(engine: object) -> list[object]:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        return list(
            await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
        )


async def test_upgrade_downgrade_upgrade_and_no_drift(fresh_url: str, session_home: Path) -> None:
    engine = create_engine(settings_for(fresh_url, session_home / "aadap"))
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert await _drift(engine) == []
        await migrate.downgrade(engine, "base")
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert set(tables) <= {"alembic_version"}
        await migrate.upgrade(engine)
        assert await _drift(engine) == []
    finally:
        await engine.dispose()


async def test_ensure_schema_reads_the_version_once_per_engine(
    fresh_url: str, session_home: Path
) -> None:
    """Every lifecycle run calls ``ensure_schema``: once this process saw the engine's
    database at head it sends nothing; a downgrade from this process makes it look again."""
    engine = create_engine(settings_for(fresh_url, session_home / "aadap"))
    sent: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    try:
        assert await migrate.ensure_schema(engine) is None  # a new database: migrated
        assert sent
        before = len(sent)
        assert await migrate.ensure_schema(engine) == migrate.head_revision()
        assert len(sent) == before  # not a single statement
        await migrate.downgrade(engine, "base")
        await migrate.ensure_schema(engine)
        assert await migrate.current_revision(engine) == migrate.head_revision()
    finally:
        await engine.dispose()


# --- 0003: cost_records.cost_usd as integer 10^-10 USD ----------------------------------

#: the 0001/0002 shape of the columns the data round trip writes (cost_usd an exact decimal)
_COSTS_0001 = table(
    "cost_records",
    column("id", Uuid()),
    column("agent_type", String()),
    column("kind", String()),
    column("provider", String()),
    column("model", String()),
    column("tokens_in", Integer()),
    column("tokens_out", Integer()),
    column("cost_usd", ExactDecimal()),
    column("attempt", Integer()),
    column("call_id", String()),
    column("status", String()),
    column("details", JSON()),
    column("created_at", UTCDateTime()),
)
_AMOUNTS = ["0.0001234567", "99999.9999999999", "0", None, "12", "0.5", "0.0000000001"]


async def _old_costs(engine: AsyncEngine) -> dict[str, Decimal | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(_COSTS_0001.c.call_id, _COSTS_0001.c.cost_usd))
        return {str(call_id): cost for call_id, cost in rows}


async def _new_costs(engine: AsyncEngine) -> dict[str, Decimal | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(models.CostRecord.call_id, models.CostRecord.cost_usd))
        return {str(call_id): cost for call_id, cost in rows}


async def test_0003_converts_costs_exactly_both_ways(fresh_url: str, session_home: Path) -> None:
    """Up, down and up again with rows in the table: every amount survives exactly, the sum
    is exact in SQL, and the rebuilt SQLite table keeps its other constraints."""
    engine = create_engine(settings_for(fresh_url, session_home / "aadap"))
    expected = {f"c{i}": None if a is None else Decimal(a) for i, a in enumerate(_AMOUNTS)}
    try:
        await migrate.upgrade(engine, "0002")
        async with engine.begin() as conn:
            await conn.execute(
                _COSTS_0001.insert(),
                [
                    {"id": uuid.uuid4(), "agent_type": "developer", "kind": "llm",
                     "provider": "openai", "model": "gpt-4o", "tokens_in": 1, "tokens_out": 2,
                     "cost_usd": amount, "attempt": 1, "call_id": call_id, "status": "succeeded",
                     "details": {}, "created_at": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)}
                    for call_id, amount in expected.items()
                ],
            )  # fmt: skip
        await migrate.upgrade(engine, "0003")
        assert await _new_costs(engine) == expected
        async with engine.connect() as conn:
            total = (
                await conn.execute(text("SELECT sum(cost_usd_e10) FROM cost_records"))
            ).scalar_one()
            assert int(total) == 1000125001234567  # 100012.5001234567 USD, exactly
            with pytest.raises(IntegrityError):  # the rebuilt table kept its CHECKs
                await conn.execute(text("UPDATE cost_records SET tokens_in = -1"))
            await conn.rollback()
            with pytest.raises(IntegrityError):
                await conn.execute(text("UPDATE cost_records SET cost_usd_e10 = -1"))
            await conn.rollback()
        await migrate.downgrade(engine, "0002")
        assert await _old_costs(engine) == expected
        await migrate.upgrade(engine)
        assert await _new_costs(engine) == expected
        assert await _drift(engine) == []
    finally:
        await engine.dispose()


MIGRATE_IN_CHILD = """
import asyncio, sys
from pathlib import Path
from aadap.core.config import load_settings
from aadap.db import migrate
from aadap.db.session import create_engine

async def main() -> None:
    engine = create_engine(load_settings(home=Path(sys.argv[1])))
    try:
        await migrate.ensure_schema(engine)
        print(await migrate.current_revision(engine))
    finally:
        await engine.dispose()

asyncio.run(main())
"""


def test_processes_starting_together_on_a_fresh_sqlite_file_all_migrate_it(
    tmp_path: Path,
) -> None:
    """Two commands on a new AADAP_HOME used to race on creating the schema ("table ...
    already exists"); one migrates under a file lock, the others wait and find it done."""
    home = tmp_path / "aadap"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AADAP_")}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_IN_CHILD, str(home)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outcomes = [child.communicate(timeout=180) for child in children]
    assert [child.returncode for child in children] == [0] * 6, [err for _, err in outcomes]
    assert {out.strip() for out, _ in outcomes} == {migrate.head_revision()}
    with closing(sqlite3.connect(home / "aadap.db")) as con:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (migrate.head_revision(),)
        ]


async def test_connections_racing_on_a_fresh_sqlite_file_all_open_it_in_wal_mode(
    tmp_path: Path, session_home: Path
) -> None:
    """Each new connection used to switch the file to WAL; two first connections switching
    together got "database is locked" at once, busy timeout or not, and one of six
    ``aadap run`` on a fresh home failed (here, about one fresh file in ten). The switch
    is made once, under the migration's lock, and the file keeps it."""
    from aadap.db.session import check_connection

    for trial in range(40):
        url = f"sqlite+aiosqlite:///{tmp_path / f'race{trial}.db'}"
        engines = [create_engine(settings_for(url, session_home), url=url) for _ in range(12)]
        try:
            outcomes = await asyncio.gather(*map(check_connection, engines), return_exceptions=True)
            assert [o for o in outcomes if o is not None] == [], trial
        finally:
            for engine in engines:
                await engine.dispose()
    try:  # the last file: racing migrations leave it in WAL mode, as seen by every connection
        await asyncio.gather(*map(migrate.ensure_schema, engines[:3]))
        for engine in engines:
            async with engine.connect() as conn:
                assert (await conn.execute(text("SELECT count(*) FROM tasks"))).scalar() == 0
                assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        for engine in engines:
            await engine.dispose()
