"""The Alembic chain: one head, contiguous, round-trips, and matches the models."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect

from aadap.db import migrate
from aadap.db.models import Base
from aadap.db.session import create_engine
from tests.conftest import settings_for, throwaway_postgres_database


def test_single_head_and_contiguous_chain() -> None:
    script = migrate.script()
    assert len(script.get_heads()) == 1
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
