"""Real servers for benchmarks: a throwaway PostgreSQL database and ``prefect server start`` on it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

PG_ADMIN = os.environ.get("AADAP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
BIN = Path(sys.executable).parent

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.processes import free_port, stop, wait_http  # noqa: E402


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
def prefect_server(home: Path) -> Iterator[str]:
    """``prefect server start`` on a throwaway PostgreSQL database; yields the API URL."""
    port = free_port()
    with postgres_database("prefect_bench") as db_url:
        env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": db_url.replace(
                "postgresql://", "postgresql+asyncpg://"
            ),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL", None)
        with (home / "server.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            api = f"http://127.0.0.1:{port}/api"
            try:
                wait_http(f"{api}/health", proc, 90)
                yield api
            finally:
                stop(proc)
