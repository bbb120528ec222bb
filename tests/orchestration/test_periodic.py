"""The periodic flows (``cost-report``, ``budget-watch``, ``reconcile``) on a real Prefect test API."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.client.schemas.objects import Artifact
from prefect.events.filters import EventFilter, EventIDFilter
from prefect.events.schemas.events import ReceivedEvent
from prefect.states import Scheduled, State, Submitting
from sqlalchemy import select

from aadap.agents.offline import OfflineLLMClient
from aadap.core.config import BudgetSettings, Settings
from aadap.core.exceptions import InvalidRequestError
from aadap.db import models
from aadap.db.session import Database
from aadap.orchestration import periodic
from aadap.orchestration.bound_runtime import use_runtime
from aadap.services import reports
from aadap.services.runtime import Runtime
from flows.budget_watch import budget_watch
from flows.cost_report import cost_report
from flows.reconcile import reconcile
from tests import builders
from tests.conftest import settings_for

pytestmark = pytest.mark.prefect

NOW = dt.datetime(2025, 3, 20, 9, 0, tzinfo=dt.UTC)  # 10:00 in Paris
T = TypeVar("T")


@flow(name="aadap-test-probe-target")
async def probe_target() -> int:
    return 1


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return settings_for(
        db.engine.url.render_as_string(hide_password=False),
        tmp_path / "home",
        timezone="Europe/Paris",
        retention_days=30,
        budgets=BudgetSettings(daily_usd=Decimal("10"), monthly_usd=Decimal("100")),
    )


async def run(db: Database, settings: Settings, flow_call: Callable[[], Awaitable[Any]]) -> Any:
    with use_runtime(Runtime.build(settings, db, OfflineLLMClient())):
        return await flow_call()


async def add(db: Database, *rows: Any) -> None:
    async with db.transaction() as session:
        for row in rows:  # tasks before the rows that point at them
            session.add(row)
            await session.flush()


async def rows(db: Database, model: type[Any]) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def artifacts_of(state: State[Any]) -> dict[str, Artifact]:
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key: a for a in found if a.key}


async def eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """Poll the API until ``done``: the server persists events in the background, in batches."""
    deadline = asyncio.get_running_loop().time() + 45
    while True:
        value = await read()
        if done(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.25)


async def test_cost_report_flow_writes_the_csv_and_publishes_artifacts(
    prefect_api: None, db: Database, settings: Settings
) -> None:
    task = builders.task(id=uuid.uuid4(), title="load | orders")
    costs = [
        builders.cost(task.id, agent_type="developer", cost_usd=Decimal("0.25"), created_at=NOW),
        builders.cost(task.id, agent_type="reviewer", cost_usd=Decimal("0.0000000001"),
                      created_at=dt.datetime(2025, 3, 19, 23, 30, tzinfo=dt.UTC)),  # the 20th in Paris
        builders.cost(None, agent_type="parser", cost_usd=None, created_at=NOW),
    ]  # fmt: skip
    await add(db, task, *costs)

    state = await run(db, settings, lambda: cost_report(months=2, now=NOW, return_state=True))

    assert state.is_completed(), state.message
    summary = await state.result()
    assert isinstance(summary, periodic.CostReportSummary)
    assert (summary.report_date, summary.timezone) == (dt.date(2025, 3, 20), "Europe/Paris")
    assert summary.total_usd == summary.today_usd == Decimal("0.2500000001")
    assert (summary.calls, summary.unpriced_calls) == (3, 1)
    path = settings.home / "reports" / "cost-report-2025-03-20.csv"
    assert summary.csv_path == str(path)
    with path.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    assert tuple(lines[0]) == reports.CSV_COLUMNS
    assert ["day", "2025-03-20", "", "3", "300", "150", "0.2500000001", "1"] in lines

    found = await artifacts_of(state)
    assert set(summary.artifact_keys) <= set(found)
    table = found[periodic.REPORT_TABLE_KEY]
    assert table.type == "table"
    published = json.loads(str(table.data))
    assert {"group": "agent", "item": "developer", "calls": 1, "tokens": 150, "cost_usd": "0.25"} in [
        {**row, "cost_usd": format(Decimal(row["cost_usd"]).normalize(), "f")} for row in published
    ]  # fmt: skip
    assert len(published) == len(lines) - 1  # the CSV without its header
    # five narrow columns fit a 1,440 px screen: a task by its short id and title
    assert all(list(row) == ["group", "item", "calls", "tokens", "cost_usd"] for row in published)
    assert all(len(row["item"]) <= 48 for row in published)
    assert {"group": "task", "item": f"{str(task.id)[:8]} load | orders"} in [
        {"group": row["group"], "item": row["item"]} for row in published
    ]
    # the totals agree between the table, the CSV and the summary
    total = next(row for row in published if row["group"] == "total")
    assert (total["calls"], Decimal(total["cost_usd"])) == (summary.calls, summary.total_usd)
    report = found[periodic.REPORT_MARKDOWN_KEY]
    assert report.type == "markdown"
    text = str(report.data)
    assert "# AADAP cost report 2025-03-20 (Europe/Paris)" in text
    assert "| today | 2025-03-20 | $0.2500000001 |" in text
    assert "load \\| orders" in text  # a pipe in a title does not break the table
    # every date range is explained: the window of whole months, ISO weeks, local days
    assert "The report covers 2025-02-01 to 2025-03-20" in text
    assert "this month and the 1 before it, from the first day of February 2025" in text
    assert "ISO weeks" in text
    assert str(path) in text
    # the runs list names the run after the flow and the time it was due, not random words
    async with get_client() as client:
        flow_run = await client.read_flow_run(state.state_details.flow_run_id)
    due = flow_run.expected_start_time.astimezone(dt.UTC)
    assert flow_run.name == f"cost-report · {due:%Y-%m-%d %H:%M} UTC"


async def test_budget_watch_flow_writes_rows_and_emits_one_event_per_threshold(
    prefect_api: None, db: Database, settings: Settings
) -> None:
    await add(db, builders.cost(None, cost_usd=Decimal("8.5"), created_at=NOW))

    state = await run(db, settings, lambda: budget_watch(now=NOW, return_state=True))

    assert state.is_completed(), state.message
    summary = await state.result()
    assert isinstance(summary, periodic.BudgetWatchSummary)
    assert [(a.period, a.threshold, a.level) for a in summary.alerts] == [
        ("daily", 50, "WARNING"),
        ("daily", 80, "ERROR"),
    ]
    assert not summary.refusing_new_tasks
    assert [(e.event, e.resource_id, e.payload["threshold"]) for e in summary.events] == [
        ("aadap.budget.threshold", "aadap.budget.daily", 50),
        ("aadap.budget.threshold", "aadap.budget.daily", 80),
    ]
    logged = {r.id: r for r in await rows(db, models.TaskLog)}
    for alert, event in zip(summary.alerts, summary.events, strict=True):
        assert logged[alert.log_id].level == alert.level
        assert event.payload["task_log_id"] == str(alert.log_id)

    ids = [e.id for e in summary.events]

    async def read() -> list[ReceivedEvent]:
        async with get_client() as client:
            page = await client.read_events(filter=EventFilter(id=EventIDFilter(id=ids)), limit=50)
        return page.events

    received = await eventually(read, lambda found: len(found) == len(ids))
    assert sorted(e.id for e in received) == sorted(ids), "events never reached the Prefect API"
    by_id = {e.id: e for e in received}
    for sent in summary.events:
        got = by_id[sent.id]
        assert got.event == "aadap.budget.threshold"
        assert got.resource.id == "aadap.budget.daily"
        assert (got.payload["percent"], got.payload["limit"]) == ("85.00", "10")
        assert Decimal(got.payload["spend"]) == Decimal("8.5")
        run_id = state.state_details.flow_run_id
        assert f"prefect.flow-run.{run_id}" in {r.id for r in got.related}

    again = await run(db, settings, lambda: budget_watch(now=NOW + dt.timedelta(minutes=5)))
    assert (again.alerts, again.events) == ([], [])  # nothing new: no row, no event


def Resuming() -> State[Any]:
    """The state Prefect's resume endpoint gives a suspended run an approval decided."""
    return Scheduled(name="Resuming", scheduled_time=NOW)


async def test_reconcile_flow_expires_approvals_closes_orphans_and_prunes_logs(
    prefect_api: None, db: Database, settings: Settings
) -> None:
    finished = await probe_target(return_state=True)
    ended_run = str(finished.state_details.flow_run_id)
    async with get_client() as client:
        waiting_run = str(
            (
                await client.create_flow_run(
                    probe_target, state=Scheduled(scheduled_time=NOW + dt.timedelta(days=3650))
                )
            ).id
        )
        # a run being resumed after an approval passes through these: it is not over
        resuming_run = str((await client.create_flow_run(probe_target, state=Resuming())).id)
        submitting_run = str((await client.create_flow_run(probe_target, state=Submitting())).id)
    orphan = builders.task(id=uuid.uuid4(), current_state="IN_DEVELOPMENT", flow_run_id=ended_run)
    live = builders.task(id=uuid.uuid4(), current_state="IN_DEVELOPMENT", flow_run_id=waiting_run)
    resuming = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW", flow_run_id=resuming_run)
    submitting = builders.task(
        id=uuid.uuid4(), current_state="IN_REVIEW", flow_run_id=submitting_run
    )
    unknown = builders.task(
        id=uuid.uuid4(), current_state="PLANNING", flow_run_id=str(uuid.uuid4())
    )
    paused = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW")
    request = models.ApprovalRequest(
        id=uuid.uuid4(), task_id=paused.id, operation_class="write", environment="PRODUCTION",
        risk_level="MEDIUM", code_hash="c" * 64, requested_by="system:policy",
        requested_at=NOW - dt.timedelta(hours=5), expires_at=NOW - dt.timedelta(hours=1),
    )  # fmt: skip
    pending_cost = builders.cost(orphan.id, status="pending", created_at=NOW)
    old_log = builders.log(orphan.id, message="old", created_at=NOW - dt.timedelta(days=31))
    recent_log = builders.log(orphan.id, message="recent", created_at=NOW - dt.timedelta(days=29))
    await add(db, orphan, live, resuming, submitting, unknown, paused, request, pending_cost,
              old_log, recent_log)  # fmt: skip

    state = await run(db, settings, lambda: reconcile(now=NOW, return_state=True))

    assert state.is_completed(), state.message
    summary = await state.result()
    assert isinstance(summary, periodic.ReconcileSummary)
    assert [(e.approval_id, e.task_id, e.task_failed) for e in summary.expired_approvals] == [
        (request.id, paused.id, True)
    ]
    assert [(o.task_id, o.reason) for o in summary.orphaned] == [
        (orphan.id, "its flow run ended Completed")
    ]
    assert (summary.logs_deleted, summary.retention_days) == (1, 30)

    states = {t.id: t.current_state for t in await rows(db, models.Task)}
    assert states == {
        orphan.id: "FAILED",
        live.id: "IN_DEVELOPMENT",
        resuming.id: "IN_REVIEW",
        submitting.id: "IN_REVIEW",
        unknown.id: "PLANNING",
        paused.id: "FAILED",
    }
    [cost] = await rows(db, models.CostRecord)
    assert cost.status == "orphaned"
    logged = await rows(db, models.TaskLog)
    assert "old" not in {r.message for r in logged}
    events = {(r.event, r.task_id, r.level) for r in logged}
    assert ("approval.expired", paused.id, "ERROR") in events
    assert ("task.orphaned", orphan.id, "CRITICAL") in events


async def test_the_probe_reads_flow_run_states_through_the_api(prefect_api: None) -> None:
    finished = await probe_target(return_state=True)
    assert await periodic.flow_run_state(str(finished.state_details.flow_run_id)) == "Completed"
    assert await periodic.flow_run_state(str(uuid.uuid4())) is None  # no such run: unknown
    assert await periodic.flow_run_state("not-a-flow-run-id") is None
    ended = str(finished.state_details.flow_run_id)
    assert await periodic.flow_run_ended(ended) == "Completed"
    async with get_client() as client:
        resumed = str((await client.create_flow_run(probe_target, state=Resuming())).id)
    assert await periodic.flow_run_state(resumed) == "Resuming"
    assert await periodic.flow_run_ended(resumed) is None  # Scheduled: not over
    assert await periodic.flow_run_ended(str(uuid.uuid4())) is None


async def test_bad_parameters_fail_the_run_with_the_field_named(
    prefect_api: None, db: Database, settings: Settings
) -> None:
    months = await run(db, settings, lambda: cost_report(months=0, return_state=True))
    assert months.is_failed()
    with pytest.raises(InvalidRequestError, match="months=0"):
        await months.result()
    naive = dt.datetime(2025, 3, 20, 9, 0)  # noqa: DTZ001 - the bad input under test
    watch = await run(db, settings, lambda: budget_watch(now=naive, return_state=True))
    assert watch.is_failed()
    with pytest.raises(InvalidRequestError, match="no time zone"):
        await watch.result()
    failures = [r for r in await rows(db, models.TaskLog) if r.event == "flow.failed"]
    assert sorted(r.error_code for r in failures) == ["INVALID_REQUEST", "INVALID_REQUEST"]
    assert not (settings.home / "reports").exists()
