"""A real ``prefect server start`` on PostgreSQL, and ``aadap serve`` against it, as a new user would run them."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deployments.serve import DEPLOYMENT_NAMES
from tests.conftest import prefect_server_on_postgres, throwaway_postgres_database
from tests.fakes.processes import stop

AADAP = str(Path(sys.executable).with_name("aadap"))


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``prefect server start`` of this module's own, on PostgreSQL; yields the API URL."""
    with prefect_server_on_postgres(tmp_path_factory.mktemp("prefect-server")) as api:
        yield api


class Served:
    def __init__(
        self,
        api: str,
        app_db_url: str,
        home: Path,
        env: dict[str, str],
        proc: subprocess.Popen[bytes],
    ) -> None:
        self.api = api
        self.app_db_url = app_db_url
        self.home = home
        self.env = env
        self.proc = proc

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [AADAP, *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )


def served_env(api: str, app_db_url: str, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AADAP_", "PREFECT_"))}
    env.update(
        {
            "PREFECT_API_URL": api,
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "AADAP_HOME": str(home),
            "AADAP_DATABASE_URL": app_db_url,
            "AADAP_SCHEDULES_RUNNER_POLL_SECONDS": "1",
            "AADAP_SAFETY_APPROVAL_POLL_SECONDS": "1",
            **extra,
        }
    )
    return env


@contextlib.contextmanager
def aadap_serve(api: str, home: Path, **extra: str) -> Iterator[Served]:
    """``aadap serve`` in its own process group, on a throwaway AADAP database, against ``api``;
    ``extra``: more environment variables. Yields once every deployment is registered."""
    with throwaway_postgres_database() as app_db:
        env = served_env(api, app_db, home, **extra)
        log = (home / "serve.log").open("wb")
        proc = subprocess.Popen(
            [AADAP, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"aadap serve exited with {proc.returncode}: {(home / 'serve.log').read_text()[-3000:]}"
                    )
                response = httpx.post(f"{api}/deployments/filter", json={}, timeout=5)
                names = (
                    {d["name"] for d in response.json()} if response.status_code == 200 else set()
                )
                if set(DEPLOYMENT_NAMES.values()) <= names:  # all of them: the last comes last
                    break
                time.sleep(0.5)
            else:
                raise AssertionError("aadap serve did not register its deployments in time")
            yield Served(api, app_db, home, env, proc)
        finally:
            stop(proc)
            log.close()


@pytest.fixture(scope="module")
def served(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``aadap serve`` in its own process, on its own AADAP database, against the server."""
    with aadap_serve(prefect_server, tmp_path_factory.mktemp("aadap-served")) as serving:
        yield serving
