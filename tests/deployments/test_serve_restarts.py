"""Restarting ``aadap serve`` on a real Prefect server (PostgreSQL), with real processes and
real signals: a second serve is refused while one serves; a Ctrl-C to the first one's
process group lets the lifecycle in progress finish while a new serve waits, and leaves
no deployment paused; interval schedules keep their times. Served runs resolve data paths
against the directory ``aadap serve`` started in and refuse one outside it before any
LLM call."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from aadap.db import models
from tests.conftest import throwaway_postgres_database
from tests.deployments.conftest import AADAP, served_env
from tests.fakes.processes import stop

pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
#: a deploy step that computes for a few seconds, so a signal lands while it runs
SLOW_SQL = "Run this SQL: SELECT sum(range) AS total FROM range(4000000000)"


@pytest.fixture(scope="module")
def app_db() -> Iterator[str]:
    with throwaway_postgres_database() as url:
        yield url


def _start(api: str, app_db: str, home: Path, log_name: str) -> subprocess.Popen[bytes]:
    """``aadap serve`` from the repository root, in a process group of its own (as a
    terminal runs it); returns once it says it serves."""
    env = served_env(api, app_db, home)
    with (home / log_name).open("wb") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [AADAP, "serve"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 180
    while "serving: " not in (home / log_name).read_text():
        assert proc.poll() is None, (home / log_name).read_text()[-3000:]
        assert time.monotonic() < deadline, "aadap serve did not start serving in time"
        time.sleep(0.3)
    return proc


def _rows(app_db: str, model: type[Any]) -> list[Any]:
    async def read() -> list[Any]:
        engine = create_async_engine(app_db.replace("postgresql://", "postgresql+psycopg://"))
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(select(model.__table__))).mappings())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _trigger(http: httpx.Client, text: str) -> str:
    deployment = http.get("/deployments/name/task-lifecycle/task-lifecycle").json()
    created = http.post(
        f"/deployments/{deployment['id']}/create_flow_run",
        json={"parameters": {"request": {"text": text}}},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _final(http: httpx.Client, run_id: str, limit: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + limit
    while True:
        state: dict[str, Any] = http.get(f"/flow_runs/{run_id}").json()["state"]
        if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return state
        assert time.monotonic() < deadline, f"flow run still {state['type']}"
        time.sleep(0.3)


def _paused(http: httpx.Client) -> dict[str, bool]:
    return {d["name"]: d["paused"] for d in http.post("/deployments/filter", json={}).json()}


def test_a_restart_finishes_the_run_in_progress_and_pauses_nothing(
    prefect_server: str, app_db: str, tmp_path: Path
) -> None:
    first = _start(prefect_server, app_db, tmp_path, "first.log")
    second: subprocess.Popen[bytes] | None = None
    try:
        # a second serve while one serves: refused at once, nothing paused
        refused = subprocess.run(
            [AADAP, "serve"], env=served_env(prefect_server, app_db, tmp_path), cwd=ROOT,
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert refused.returncode == 2, refused.stderr
        assert "error [SERVE_ALREADY_RUNNING]" in refused.stderr
        assert f"pid {first.pid}" in refused.stderr
        with httpx.Client(base_url=prefect_server, timeout=30) as http:
            assert not any(_paused(http).values()), _paused(http)

            run_id = _trigger(http, SLOW_SQL)
            deadline = time.monotonic() + 180
            while not any(
                t["flow_run_id"] == run_id and t["current_state"] == "DEPLOYING"
                for t in _rows(app_db, models.Task)
            ):
                assert time.monotonic() < deadline, (tmp_path / "first.log").read_text()[-3000:]
                time.sleep(0.2)
            # Ctrl-C at the terminal: SIGINT to the whole foreground process group
            os.killpg(first.pid, signal.SIGINT)
            signalled = dt.datetime.now(dt.UTC)
            second = _start(prefect_server, app_db, tmp_path, "second.log")

            state = _final(http, run_id)
            assert state["type"] == "COMPLETED", (
                state,
                (tmp_path / "first.log").read_text()[-3000:],
            )
            assert first.wait(60) == 0
            [task] = [t for t in _rows(app_db, models.Task) if t["flow_run_id"] == run_id]
            assert task["current_state"] == "COMPLETED"
            done = [
                t for t in _rows(app_db, models.StateTransition)
                if t["task_id"] == task["id"] and t["to_state"] == "COMPLETED"
            ]  # fmt: skip
            assert done[0]["created_at"].astimezone(dt.UTC) > signalled  # it was running then
            assert "stopping: no new runs" in (tmp_path / "first.log").read_text()
            assert "waiting for the aadap serve" in (tmp_path / "second.log").read_text()
            # the old one paused before the new one registered: nothing is left paused
            assert not any(_paused(http).values()), _paused(http)

            # interval schedules keep their times across the restart: counted from 2026-01-01
            watch = http.get("/deployments/name/budget-watch/every-few-minutes").json()
            [schedule] = [s["schedule"] for s in watch["schedules"]]
            anchor = dt.datetime.fromisoformat(schedule["anchor_date"])
            assert anchor == dt.datetime(2026, 1, 1, tzinfo=dt.UTC), schedule
            assert schedule["interval"] == 300

            # the new serve serves: a run triggered now completes
            assert _final(http, _trigger(http, "What tables are there?"))["type"] == "COMPLETED"
    finally:
        stop(first)
        if second is not None:
            stop(second)


def test_served_runs_resolve_paths_against_the_serve_directory_and_refuse_outside_it(
    prefect_server: str, app_db: str, tmp_path: Path
) -> None:
    serving = _start(prefect_server, app_db, tmp_path, "serve.log")
    try:
        assert f"data root: {ROOT}" in (tmp_path / "serve.log").read_text()
        with httpx.Client(base_url=prefect_server, timeout=30) as http:
            # the README's curl, from the repository root
            ok = _trigger(http, "load examples/data/orders.csv into served_orders")
            assert _final(http, ok)["type"] == "COMPLETED"

            before = len(_rows(app_db, models.CostRecord))
            tasks_before = len(_rows(app_db, models.Task))
            outside = _trigger(http, "load /etc/passwd.csv into stolen")
            state = _final(http, outside)
            assert state["type"] == "FAILED"
            assert "DATA_PATH_OUTSIDE_ROOT" in state["message"]
            assert "/etc/passwd.csv" in state["message"] and str(ROOT) in state["message"]
            assert "LLM" not in state["message"]
            # refused before any task or LLM call
            assert len(_rows(app_db, models.Task)) == tasks_before
            assert len(_rows(app_db, models.CostRecord)) == before
    finally:
        stop(serving)
