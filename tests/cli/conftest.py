"""Fixtures of the CLI tests."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import cli_env

PREFECT = Path(sys.executable).parent / "prefect"


@pytest.fixture(scope="session")
def prefect_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Prefect database migrated once per session, as Prefect's first start leaves it."""
    home = tmp_path_factory.mktemp("prefect-template")
    done = subprocess.run(
        [str(PREFECT), "server", "database", "upgrade", "-y"],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    database = home / "prefect" / "prefect.db"
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all of it in the file, none in a WAL
    return database


@pytest.fixture
def home_with_migrated_prefect(tmp_path: Path, prefect_db_template: Path) -> Path:
    """``tmp_path`` as a home (:func:`tests.cli.aadap`) whose Prefect database is already
    migrated: Prefect's per-command server then starts without migrating a new SQLite file
    (about nine of the twenty seconds a first ``aadap run`` took here). For tests of what a
    run does; tests of a first start (``test_run_a_bundled_example_on_the_embedded_defaults``,
    the racing starts) keep a fresh home."""
    (tmp_path / "prefect").mkdir()
    shutil.copyfile(prefect_db_template, tmp_path / "prefect" / "prefect.db")
    return tmp_path
