"""Suite-wide fixtures: an isolated AADAP_HOME and PREFECT_HOME, and the two databases.

A test that starts Prefect (a test harness, a ``prefect server``, a served deployment)
carries ``@pytest.mark.prefect``, so ``-m "not prefect"`` is a quick run: a test using one
of :data:`PREFECT_FIXTURES` without it is refused at collection, and
:func:`prefect_server_on_postgres` fails a test that starts a server without it.

PostgreSQL comes from ``AADAP_TEST_DATABASE_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); a throwaway database is created
per test session and dropped afterwards. Without a reachable server the
PostgreSQL tests are skipped locally, but with ``CI=true`` that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

_SESSION_HOME = Path(tempfile.mkdtemp(prefix="aadap-tests-"))
# Before anything imports prefect: keep the suite away from ~/.prefect and ~/.aadap.
os.environ.setdefault("PREFECT_HOME", str(_SESSION_HOME / "prefect"))
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["AADAP_HOME"] = str(_SESSION_HOME / "aadap")
for _name in list(os.environ):
    if _name.startswith("AADAP_") and _name not in {
        "AADAP_HOME",
        "AADAP_TEST_DATABASE_URL",
        "AADAP_TEST_LITELLM",
    }:
        del os.environ[_name]
# an in-process `aadap run` (CliRunner) uses Prefect's per-command API and leaves no local
# server behind; tests/cli/test_server.py covers the background server, the default
os.environ["AADAP_PREFECT_SERVER"] = "ephemeral"

from aadap.core.config import Settings, load_settings  # noqa: E402
from aadap.db import migrate  # noqa: E402
from aadap.db.models import Base  # noqa: E402
from aadap.db.session import Database  # noqa: E402
from tests.fakes.databricks_server import FakeDatabricks  # noqa: E402
from tests.fakes.fabric_server import FakeFabric, Lakehouse  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "AADAP_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


PREFECT_FIXTURES = frozenset({"prefect_api", "prefect_server", "served"})
"""The fixtures that start Prefect (tests/orchestration, tests/deployments)."""
_running: list[pytest.Item] = []


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    unmarked = [
        f"{item.nodeid} (uses {', '.join(sorted(PREFECT_FIXTURES & set(fixtures)))})"
        for item in items
        if (fixtures := getattr(item, "fixturenames", ()))
        and PREFECT_FIXTURES & set(fixtures)
        and item.get_closest_marker("prefect") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests that start Prefect must be marked @pytest.mark.prefect:\n  "
            + "\n  ".join(unmarked)
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _running[:] = [item]  # before its fixtures: prefect_server_on_postgres checks the marker


def _require_prefect_marker(what: str) -> None:
    if _running and _running[0].get_closest_marker("prefect") is None:
        pytest.fail(f"{_running[0].nodeid} starts {what} but is not marked @pytest.mark.prefect")


def _pg_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://").replace(
        "postgres://", "postgresql://"
    )


@pytest.fixture(scope="session")
def session_home() -> Path:
    return _SESSION_HOME


@contextlib.contextmanager
def throwaway_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database, yield its URL, drop it afterwards."""
    admin = _pg_conninfo(PG_ADMIN_URL)
    try:
        conn = psycopg.connect(admin, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_ADMIN_URL} is unreachable (set CI=true to make this fail)")
    name = f"aadap_test_{uuid.uuid4().hex[:12]}"
    with conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = admin.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def prefect_server_on_postgres(home: Path) -> Iterator[str]:
    """``prefect server start`` backed by a throwaway PostgreSQL database; yields the API URL
    and makes it this process's ``PREFECT_API_URL`` meanwhile.

    PostgreSQL, not SQLite: Prefect's SQLite server stalls about two seconds whenever
    writers collide (shared/reference/prefect-notes.md §4), which would dominate the suite.
    """
    _require_prefect_marker("a Prefect server")
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from tests.fakes.processes import drain_prefect_workers, prefect_server

    with (
        throwaway_postgres_database() as db_url,
        prefect_server(home, db_url) as api,
        temporary_settings({PREFECT_API_URL: api}),
    ):
        try:
            yield api
        finally:
            drain_prefect_workers()


def postgres_reachable() -> bool:
    try:
        psycopg.connect(_pg_conninfo(PG_ADMIN_URL), connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this test session."""
    with throwaway_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(session_home: Path) -> str:
    return f"sqlite+aiosqlite:///{session_home / 'suite.db'}"


def settings_for(url: str, home: Path, **overrides: object) -> Settings:
    os.environ["AADAP_DATABASE_URL"] = url
    try:
        return load_settings(home=home, **overrides)
    finally:
        del os.environ["AADAP_DATABASE_URL"]


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], scope="session"
)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def _migrated(
    request: pytest.FixtureRequest, session_home: Path
) -> AsyncIterator[dict[str, Database]]:
    """One migrated database per backend, created lazily and shared by the session."""
    created: dict[str, Database] = {}

    yield created
    for db in created.values():
        await db.dispose()


@pytest.fixture
async def db(
    backend: str, request: pytest.FixtureRequest, session_home: Path, _migrated: dict[str, Database]
) -> AsyncIterator[Database]:
    """A migrated database on ``backend``, emptied after each test."""
    if backend not in _migrated:
        url = request.getfixturevalue("postgres_url" if backend == "postgres" else "sqlite_url")
        settings = settings_for(url, session_home / "aadap")
        database = Database(settings)
        await migrate.upgrade(database.engine)
        _migrated[backend] = database
    database = _migrated[backend]
    yield database
    async with database.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture
def databricks_server() -> Iterator[FakeDatabricks]:
    """A fake Databricks workspace over real HTTP."""
    with FakeDatabricks() as server:
        yield server


@pytest.fixture
def fabric_server() -> Iterator[FakeFabric]:
    """A fake Fabric workspace (Entra ID token endpoint and REST API over TLS) with one
    empty lakehouse, ``server.lakehouse_id``."""
    with FakeFabric() as server:
        server.lakehouses[server.lakehouse_id] = Lakehouse()
        yield server
