"""Deployments served by ``aadap serve`` on a real Prefect server backed by PostgreSQL:
schedules and schemas, API-triggered runs, bad parameters, and a suspended approval resumed through the API."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import uuid
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.deployments import arun_deployment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from aadap.db import models
from aadap.orchestration import approval
from tests.deployments.conftest import AADAP, Served, served_env

pytestmark = pytest.mark.prefect

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
LIFECYCLE = "task-lifecycle/task-lifecycle"


async def _rows(served: Served, model: type[Any]) -> list[Any]:
    engine = create_async_engine(
        served.app_db_url.replace("postgresql://", "postgresql+psycopg://")
    )
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(model.__table__))).mappings())
    finally:
        await engine.dispose()


async def test_every_deployment_exists_with_its_schedule_and_parameter_schema(
    served: Served,
) -> None:
    async with get_client() as client:
        lifecycle = await client.read_deployment_by_name(LIFECYCLE)
        report = await client.read_deployment_by_name("cost-report/daily")
        watch = await client.read_deployment_by_name("budget-watch/every-few-minutes")
        health = await client.read_deployment_by_name("connection-health/every-15-minutes")
        hourly = await client.read_deployment_by_name("reconcile/hourly")
    assert lifecycle.schedules == []
    assert lifecycle.enforce_parameter_schema
    request_schema = json.dumps(lifecycle.parameter_openapi_schema)
    for field in (
        "text",
        "environment",
        "platform",
        "token_budget",
        "usd_budget",
        "idempotency_key",
    ):
        assert field in request_schema, field
    assert [(s.schedule.cron, s.schedule.timezone) for s in report.schedules] == [
        ("0 6 * * *", "UTC")
    ]  # type: ignore[union-attr]
    assert [s.schedule.interval.total_seconds() for s in watch.schedules] == [300]  # type: ignore[union-attr]
    assert [s.schedule.interval.total_seconds() for s in health.schedules] == [900]  # type: ignore[union-attr]
    assert [s.schedule.interval.total_seconds() for s in hourly.schedules] == [3600]  # type: ignore[union-attr]


async def test_a_run_triggered_through_the_api_completes_and_writes_its_trail(
    served: Served,
) -> None:
    result = await asyncio.to_thread(
        served.cli,
        "submit",
        f"load {DATA / 'orders.csv'} into orders_api",
        "--wait",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    data = json.loads(result.stdout)
    assert data["state"] == "Completed"
    assert data["ui_url"].endswith(data["flow_run_id"])
    task_id = uuid.UUID(data["summary"]["task_id"])
    tasks = [t for t in await _rows(served, models.Task) if t["id"] == task_id]
    assert tasks[0]["current_state"] == "COMPLETED"
    assert tasks[0]["flow_run_id"] == data["flow_run_id"]
    transitions = [
        t for t in await _rows(served, models.StateTransition) if t["task_id"] == task_id
    ]
    assert transitions[-1]["to_state"] == "COMPLETED"
    assert "step.completed" in {
        log["event"] for log in await _rows(served, models.TaskLog) if log["task_id"] == task_id
    }
    costs = [
        c
        for c in await _rows(served, models.CostRecord)
        if c["task_id"] == task_id and c["kind"] == "llm"
    ]
    assert costs
    assert {c["status"] for c in costs} == {"succeeded"}
    assert "→ COMPLETED" in result.stderr  # step progress was shown


async def test_the_readme_plain_http_trigger_works(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.api, timeout=30) as http:
        deployment = (await http.get("/deployments/name/task-lifecycle/task-lifecycle")).json()
        created = await http.post(
            f"/deployments/{deployment['id']}/create_flow_run",
            json={
                "parameters": {
                    "request": {
                        "text": f"profile {DATA / 'customers.csv'}",
                        "environment": "SANDBOX",
                    }
                }
            },
        )
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        for _ in range(240):
            state = (await http.get(f"/flow_runs/{run_id}")).json()["state"]
            if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            await asyncio.sleep(0.5)
    assert state["type"] == "COMPLETED", state


async def test_parameters_that_fail_the_schema_are_refused_before_a_run_starts(
    served: Served,
) -> None:
    async with get_client() as client:
        before = len(await client.read_flow_runs())
    with pytest.raises(Exception, match=r"request\.platform.*snowflake.*local.*databricks.*fabric"):
        await arun_deployment(
            LIFECYCLE, parameters={"request": {"text": "x", "platform": "snowflake"}}, timeout=0
        )
    with pytest.raises(Exception, match=r"request\.text"):
        await arun_deployment(LIFECYCLE, parameters={"request": {"text": ""}}, timeout=0)
    async with get_client() as client:
        assert len(await client.read_flow_runs()) == before
    cli = await asyncio.to_thread(served.cli, "submit", "load x.csv", "--platform", "snowflake")
    assert cli.returncode == 2
    assert "platform" in cli.stderr and "snowflake" in cli.stderr


async def test_the_run_form_needs_a_request_and_types_the_budget_and_resuming_is_its_own_form(
    served: Served,
) -> None:
    async with get_client() as client:
        lifecycle = await client.read_deployment_by_name(LIFECYCLE)
        resume = await client.read_deployment_by_name("task-resume/task-resume")
        before = len(await client.read_flow_runs())
        for blank in ({}, {"request": {}}, {"request": None}, {"request": {"text": ""}}):
            with pytest.raises(httpx.HTTPStatusError) as refused:
                await client.create_flow_run_from_deployment(lifecycle.id, parameters=blank)
            assert refused.value.response.status_code in (409, 422), blank
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await client.create_flow_run_from_deployment(resume.id, parameters={})
        assert refused.value.response.status_code in (409, 422)
        assert len(await client.read_flow_runs()) == before  # no run exists for any of them
    schema = lifecycle.parameter_openapi_schema
    assert schema["required"] == ["request"]
    assert list(schema["properties"]) == ["request"]  # no task_id here: resuming is task-resume
    request = schema["definitions"]["TaskRequest"]
    assert next(iter(request["properties"])) == "text" and request["required"] == ["text"]
    assert request["properties"]["usd_budget"]["anyOf"][0]["type"] == "number"
    assert all(
        field.get("description")
        for name, field in request["properties"].items()
        if name in ("text", "environment", "platform", "usd_budget", "token_budget")
    )
    assert resume.parameter_openapi_schema["required"] == ["task_id"]


async def test_a_suspended_approval_is_resumed_through_the_api_and_the_run_finishes(
    served: Served,
) -> None:
    served.home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(served.home / "local.duckdb"))
    try:
        con.execute("CREATE OR REPLACE TABLE stale AS SELECT range AS id FROM range(20)")
    finally:
        con.close()
    async with get_client() as client:
        run = await arun_deployment(
            LIFECYCLE,
            parameters={"request": {"text": "run: DELETE FROM stale WHERE id >= 5"}},
            timeout=0,
        )
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            state = (await client.read_flow_run(run.id)).state
            if state is not None and state.name == "Suspended":
                break
            assert asyncio.get_running_loop().time() < deadline, f"never suspended: {state}"
            await asyncio.sleep(0.5)
    pending = [a for a in await _rows(served, models.ApprovalRequest) if a["status"] == "PENDING"]
    assert len(pending) == 1
    llm_calls_before = len(await _rows(served, models.CostRecord))
    await approval.submit(
        str(run.id), approval.ApprovalDecision(decision="approve", reviewer="erin", comment="go")
    )
    async with get_client() as client:
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            state = (await client.read_flow_run(run.id)).state
            if state is not None and state.is_final():
                break
            assert asyncio.get_running_loop().time() < deadline, f"never finished: {state}"
            await asyncio.sleep(0.5)
    assert state.is_completed(), state.message
    mine = [
        a
        for a in await _rows(served, models.ApprovalRequest)
        if a["task_id"] == pending[0]["task_id"]
    ]
    assert len(mine) == 1  # the re-run from the top found the same request instead of asking again
    decided = next(
        a for a in await _rows(served, models.ApprovalRequest) if a["id"] == pending[0]["id"]
    )
    assert (decided["status"], decided["decided_by"]) == ("APPROVED", "erin")
    # the run log: waiting was INFO, not ERROR; the decision, the restored steps and the deploy
    await asyncio.sleep(3)  # the served process ships its last log batch
    async with get_client() as client:
        log = await client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
        )
    lines = [(r.level, r.message) for r in log]
    waiting = [lvl for lvl, m in lines if m.startswith("Finished in state Suspended")]
    assert waiting and set(waiting) == {logging.INFO}, lines
    messages = [m for _, m in lines]
    assert any(f"{pending[0]['id']}: APPROVED by erin; comment: go" in m for m in messages)
    assert any(m.startswith("approval-round-1: restored from the record") for m in messages)
    assert any(m.startswith("deployed on local: ") for m in messages)
    # the flow re-ran from the top after the suspend, but no finished LLM call was repeated
    assert (
        len(await _rows(served, models.CostRecord)) == llm_calls_before + 1
    )  # + the compute row of the deploy
    con = duckdb.connect(str(served.home / "local.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM stale").fetchone()[0] == 5
    finally:
        con.close()


def test_an_invalid_cron_fails_serve_at_start(prefect_server: str, tmp_path: Path) -> None:
    env = served_env(prefect_server, "sqlite+aiosqlite:///" + str(tmp_path / "a.db"), tmp_path,
                     AADAP_SCHEDULES_COST_REPORT_CRON="every morning")  # fmt: skip
    result = subprocess.run([AADAP, "serve"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "AADAP_SCHEDULES_COST_REPORT_CRON" in result.stderr
    assert "every morning" in result.stderr


async def _suspend_then_cancel(served: Served, table: str) -> uuid.UUID:
    """A lifecycle that drops ``table`` (so it waits for approval, suspended), then cancelled
    in Prefect while suspended; returns its flow run id."""
    from prefect.states import Cancelled

    served.home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(served.home / "local.duckdb"))
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT range AS id FROM range(3)")
    finally:
        con.close()
    async with get_client() as client:
        run = await arun_deployment(
            LIFECYCLE, parameters={"request": {"text": f"run: DROP TABLE {table}"}}, timeout=0
        )
        deadline = asyncio.get_running_loop().time() + 120
        while (
            state := (await client.read_flow_run(run.id)).state
        ) is None or state.name != "Suspended":
            assert asyncio.get_running_loop().time() < deadline, f"never suspended: {state}"
            await asyncio.sleep(0.5)
        await client.set_flow_run_state(run.id, Cancelled(message="changed my mind"), force=True)
    return run.id


def _table_rows(served: Served, table: str) -> int:
    con = duckdb.connect(str(served.home / "local.duckdb"), read_only=True)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


async def _task_and_request(served: Served, run_id: uuid.UUID) -> tuple[Any, Any]:
    task = next(t for t in await _rows(served, models.Task) if t["flow_run_id"] == str(run_id))
    [request] = [
        a for a in await _rows(served, models.ApprovalRequest) if a["task_id"] == task["id"]
    ]
    return task, request


async def test_cancelling_a_suspended_run_in_prefect_cancels_the_task(served: Served) -> None:
    run_id = await _suspend_then_cancel(served, "doomed")
    # nothing runs a suspended flow's hooks: the scheduled reconcile notices the cancellation
    sweep = await arun_deployment("reconcile/hourly", timeout=120)
    assert sweep.state is not None and sweep.state.is_completed(), sweep.state
    task, request = await _task_and_request(served, run_id)
    trail = [t for t in await _rows(served, models.StateTransition) if t["task_id"] == task["id"]]
    assert task["current_state"] == "CANCELLED", [
        (t["to_state"], t["triggered_by"], t["reason"]) for t in trail
    ][-3:]
    # ... and the request its run waited for ends with it
    assert (request["status"], request["decided_by"]) == ("CANCELLED", "reconcile")
    assert "its run ended CANCELLED" in request["reason"]
    assert _table_rows(served, "doomed") == 3


async def test_a_decision_on_a_cancelled_run_is_refused_and_aadap_reconcile_closes_it(
    served: Served,
) -> None:
    """``aadap reconcile`` asks Prefect as the scheduled flow does (it reported nothing for a
    suspended run cancelled in Prefect); before it, a decision is refused, changing nothing."""
    run_id = await _suspend_then_cancel(served, "spared")
    task, request = await _task_and_request(served, run_id)
    assert (task["current_state"], request["status"]) == ("IN_REVIEW", "PENDING")

    for verb in ("approve", "reject"):
        refused = await asyncio.to_thread(served.cli, "approvals", verb, str(request["id"])[:8])
        assert refused.returncode == 2, refused.stderr
        assert "error [APPROVAL_NOT_WAITING]" in refused.stderr
        assert f"flow run {run_id} is Cancelled" in refused.stderr
        assert "Traceback" not in refused.stdout + refused.stderr
    assert await _task_and_request(served, run_id) == (task, request)

    swept = await asyncio.to_thread(served.cli, "reconcile")

    assert swept.returncode == 0, swept.stderr
    assert f"{task['id']}  IN_REVIEW → CANCELLED" in swept.stdout
    assert json.loads(swept.stdout.splitlines()[-1])["reconciled"] == 1
    task, request = await _task_and_request(served, run_id)
    assert (task["current_state"], request["status"]) == ("CANCELLED", "CANCELLED")
    assert _table_rows(served, "spared") == 3
