"""Real servers for benchmarks: a throwaway PostgreSQL database and ``prefect server start`` on it."""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

PG_ADMIN = os.environ.get("AADAP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.processes import prefect_server as prefect_process  # noqa: E402


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def prefect_server(home: Path, *, ui: bool = False) -> Iterator[str]:
    """``prefect server start`` on a throwaway PostgreSQL database; yields the API URL."""
    with postgres_database("prefect_bench") as db_url, prefect_process(home, db_url, ui=ui) as api:
        yield api
