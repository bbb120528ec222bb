"""A real ``prefect server start`` on PostgreSQL, and ``aadap serve`` against it, as a new user would run them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.conftest import throwaway_postgres_database
from tests.fakes.processes import free_port, stop, wait_http

AADAP = str(Path(sys.executable).with_name("aadap"))


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``prefect server start`` backed by a throwaway PostgreSQL database; yields the API URL."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    with throwaway_postgres_database() as db_url:
        env = {
            **os.environ,
            "PREFECT_HOME": str(home),
            "PREFECT_API_DATABASE_CONNECTION_URL": db_url.replace(
                "postgresql://", "postgresql+asyncpg://"
            ),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_API_PORT": str(port),
        }
        env.pop("PREFECT_API_URL", None)
        log = (home / "server.log").open("wb")
        proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        api = f"http://127.0.0.1:{port}/api"
        try:
            wait_http(f"{api}/health", proc, 90)
            with temporary_settings({PREFECT_API_URL: api}):
                yield api
        finally:
            stop(proc)
            log.close()


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


@pytest.fixture(scope="module")
def served(prefect_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``aadap serve`` in its own process, on its own AADAP database, against the server."""
    home = tmp_path_factory.mktemp("aadap-served")
    with throwaway_postgres_database() as app_db:
        env = served_env(prefect_server, app_db, home)
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
                response = httpx.post(f"{prefect_server}/deployments/filter", json={}, timeout=5)
                if response.status_code == 200 and len(response.json()) >= 5:
                    break
                time.sleep(0.5)
            else:
                raise AssertionError("aadap serve did not register its deployments in time")
            yield Served(prefect_server, app_db, home, env, proc)
        finally:
            stop(proc)
            log.close()
