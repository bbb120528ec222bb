"""An approval ends when its run ends: ``aadap run`` waiting for approval is killed with
``kill -9``; a decision is refused while the request is left over, ``aadap reconcile``
closes the task and its request, and a decision afterwards is refused too, each without
a traceback and without changing anything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from prefect.states import Cancelled
from sqlalchemy import select

from aadap.core.config import SafetySettings
from aadap.db import models
from aadap.db.session import Database
from aadap.orchestration import flowruns
from tests.cli import AADAP, cli_env
from tests.orchestration.conftest import HarnessFactory

pytestmark = pytest.mark.prefect

DELETE = "run: DELETE FROM orders_raw WHERE amount < 50"
STARTUP_TIMEOUT = 120.0


def _seed(home: Path, folder: str = "aadap") -> None:
    (home / folder).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(home / folder / "local.duckdb"))
    try:
        con.execute(
            "CREATE TABLE orders_raw AS SELECT range AS order_id, range * 10 AS amount FROM range(10)"
        )
    finally:
        con.close()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


def _spawn(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """``aadap run`` of a request that waits for approval, in the foreground of a child."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [str(AADAP), "run", DELETE], env=env, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
        )


async def _waiting_request(
    db: Database, proc: subprocess.Popen[bytes] | None, log: Path
) -> models.ApprovalRequest:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"aadap run exited ({proc.returncode}): {_tail(log)}")
        async with db.sessions() as session:
            pending = list(
                (
                    await session.execute(
                        select(models.ApprovalRequest).where(
                            models.ApprovalRequest.status == "PENDING"
                        )
                    )
                ).scalars()
            )
            task = (await session.execute(select(models.Task))).scalar_one_or_none()
        if (
            pending
            and task is not None
            and task.flow_run_id is not None
            and await flowruns.flow_run_state(task.flow_run_id) == "Paused"
        ):
            return pending[0]
        await asyncio.sleep(0.3)
    pytest.fail(f"aadap run never paused for approval in {STARTUP_TIMEOUT}s")


async def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [str(AADAP), *args], env=env, cwd=cwd, capture_output=True, text=True,
        timeout=180, check=False,
    )  # fmt: skip


async def _state(db: Database, request_id: object) -> tuple[str, str, str | None, str | None]:
    async with db.sessions() as session:
        request = await session.get(models.ApprovalRequest, request_id)
        assert request is not None
        task = await session.get(models.Task, request.task_id)
        assert task is not None
    return task.current_state, request.status, request.decided_by, request.reason


async def _killed_while_waiting(
    db: Database, tmp_path: Path
) -> tuple[dict[str, str], models.ApprovalRequest]:
    """An ``aadap run`` killed (-9) while it waits for approval: its environment and the
    request it left PENDING."""
    _seed(tmp_path)
    env = cli_env(
        tmp_path,
        AADAP_DATABASE_URL=db.engine.url.render_as_string(hide_password=False),
        PREFECT_API_URL=str(PREFECT_API_URL.value()),
        AADAP_SAFETY_APPROVAL_POLL_SECONDS="1",
    )
    log = tmp_path / "run.log"
    proc = _spawn(env, tmp_path, log)
    try:
        request = await _waiting_request(db, proc, log)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    return env, request


async def _assert_flow_run_crashed(db: Database, request: models.ApprovalRequest) -> None:
    async with db.sessions() as session:
        task = await session.get(models.Task, request.task_id)
    assert task is not None and task.flow_run_id is not None
    async with get_client() as client:
        run = await client.read_flow_run(uuid.UUID(task.flow_run_id))
    assert run.state is not None and run.state.is_crashed(), run.state
    assert f"AADAP closed task {task.id}" in (run.state.message or "")


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_a_killed_run_waiting_for_approval_ends_its_request(
    prefect_api: None, db: Database, tmp_path: Path
) -> None:
    env, request = await _killed_while_waiting(db, tmp_path)
    short = str(request.id)[:8]
    before = await _state(db, request.id)
    assert before[:2] == ("IN_REVIEW", "PENDING")

    # the request is still PENDING, but nothing waits for it: refused, nothing changes
    approve = await _cli(env, tmp_path, "approvals", "approve", short, "--reviewer", "dave")
    assert approve.returncode == 2, approve.stderr
    assert "error [APPROVAL_NOT_WAITING]" in approve.stderr and "is gone" in approve.stderr
    assert "Traceback" not in approve.stdout + approve.stderr
    assert await _state(db, request.id) == before

    # the CLI's reconcile asks what the flow's asks, and closes the task and its request
    swept = await _cli(env, tmp_path, "reconcile")
    assert swept.returncode == 0, swept.stderr
    assert "IN_REVIEW → FAILED" in swept.stdout
    assert json.loads(swept.stdout.splitlines()[-1])["reconciled"] == 1
    state, status, decided_by, reason = await _state(db, request.id)
    assert (state, status, decided_by) == ("FAILED", "CANCELLED", "reconcile")
    assert reason is not None and "its run ended FAILED" in reason and "is gone" in reason
    # and Prefect no longer shows the killed run Paused, waiting for a decision forever
    await _assert_flow_run_crashed(db, request)

    # a decision on the closed request: refused with its status, nothing changes
    reject = await _cli(env, tmp_path, "approvals", "reject", short, "--comment", "too late")
    assert reject.returncode == 2, reject.stderr
    assert "error [APPROVAL_NOT_WAITING]" in reject.stderr and "CANCELLED" in reject.stderr
    assert "rejectd" not in reject.stdout + reject.stderr
    assert "Traceback" not in reject.stdout + reject.stderr
    assert await _state(db, request.id) == (state, status, decided_by, reason)
    listed = await _cli(env, tmp_path, "approvals", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_the_next_aadap_run_ends_a_killed_runs_flow_run_in_prefect(
    prefect_api: None, db: Database, tmp_path: Path
) -> None:
    """``aadap run`` closes what a killed run left before it starts, and once Prefect's API
    is up, it ends that run's flow run there too: it showed Paused for good."""
    env, request = await _killed_while_waiting(db, tmp_path)
    following = await _cli(env, tmp_path, "run", "run: SELECT count(*) AS n FROM orders_raw")
    assert following.returncode == 0, following.stderr
    assert f"reconciled orphaned task {request.task_id}" in following.stderr
    assert (await _state(db, request.id))[0] == "FAILED"
    await _assert_flow_run_crashed(db, request)


async def test_a_run_cancelled_in_prefect_while_it_waits_stops_and_ends_its_request(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    """In-process (``aadap run``): Prefect's pause would wait for its timeout; the run
    notices the cancellation, cancels the task and closes its request."""
    h = make_harness(safety=SafetySettings(approval_poll_seconds=1))
    _seed(h.settings.home.parent, h.settings.home.name)
    run = asyncio.create_task(h.run(DELETE))
    try:
        request = await _waiting_request(h.db, None, tmp_path / "none.log")
        [task] = await h.rows(models.Task)
        async with get_client() as client:
            await client.set_flow_run_state(
                uuid.UUID(task.flow_run_id or ""), Cancelled(message="not today"), force=True
            )
        state = await asyncio.wait_for(run, 60)
    finally:
        if not run.done():
            run.cancel()

    assert not state.is_completed()
    [closed] = await h.rows(models.ApprovalRequest)
    assert closed.id == request.id
    assert (closed.status, closed.decided_by) == ("CANCELLED", "lifecycle")
    assert "was Cancelled in Prefect" in (closed.reason or "")
    [task] = await h.rows(models.Task)
    assert task.current_state == "CANCELLED"
    assert await h.rows(models.Execution) == []
