"""The real lifecycle flow on a real Prefect API and both databases, with faults injected
through the scripted LLM (a FaultInjectingLLMClient over the offline provider)."""

from __future__ import annotations

import itertools

import duckdb
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterId,
)

from aadap.core.enums import CostStatus
from aadap.core.exceptions import (
    IdempotencyConflictError,
    LLMAuthenticationError,
    LLMRateLimitError,
    TokenBudgetExceededError,
)
from aadap.db import models
from aadap.orchestration import steps
from tests.orchestration.conftest import DATA, HarnessFactory

pytestmark = pytest.mark.prefect

LOAD = f"load {DATA / 'orders.csv'} into a table called orders_raw"

HAPPY_PATH = [
    "PARSING", "PARSED", "PLANNING", "PLANNED", "AGENT_ASSIGNMENT", "AGENT_ASSIGNED", "IN_DEVELOPMENT",
    "CODE_GENERATED", "IN_VALIDATION", "VALIDATION_PASSED",
]  # fmt: skip
TAIL = ["APPROVAL_PENDING", "IN_REVIEW", "APPROVED", "DEPLOYING", "DEPLOYED", "COMPLETED"]


def _csv_rows() -> int:
    with (DATA / "orders.csv").open() as fh:
        return sum(1 for _ in fh) - 1


async def test_a_request_runs_end_to_end_and_leaves_a_full_trail(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    state = await h.run(LOAD)
    assert state.is_completed(), state.message
    summary = await state.result()
    task = await h.only_task()
    assert task.current_state == "COMPLETED"
    assert summary.state == "COMPLETED"

    trail = sorted(await h.rows(models.StateTransition, task.id), key=lambda t: t.sequence_num)
    assert [t.sequence_num for t in trail] == list(range(1, len(trail) + 1))
    visited = [t.to_state for t in trail]
    assert visited[: len(HAPPY_PATH)] == HAPPY_PATH
    assert visited[-len(TAIL) :] == TAIL
    assert all(a.to_state == b.from_state for a, b in itertools.pairwise(trail))

    # the table really exists in the local DuckDB with every row of the file
    con = duckdb.connect(str(h.settings.home / "local.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM orders_raw").fetchone()[0] == _csv_rows()
    finally:
        con.close()

    executions = await h.rows(models.Execution, task.id)
    assert [(e.status, e.rows_affected) for e in executions] == [("SUCCESS", _csv_rows())]
    approvals = await h.rows(models.ApprovalRequest, task.id)
    assert [(a.status, a.decided_by, a.operation_class) for a in approvals] == [
        ("AUTO_APPROVED", "system:policy", "write")
    ]
    kinds = {a.artifact_type for a in await h.rows(models.Artifact, task.id)}
    assert {
        "requirement",
        "plan",
        "generated_code",
        "review_report",
        "decision_explanation",
        "execution_result",
    } <= kinds
    assert all(len(a.content_hash) == 64 for a in await h.rows(models.Artifact, task.id))

    # one cost row per LLM call, all settled by the step hooks
    llm_rows = [c for c in await h.rows(models.CostRecord, task.id) if c.kind == "llm"]
    assert len(llm_rows) == len(h.llm.requests)
    assert {c.status for c in llm_rows} == {CostStatus.SUCCEEDED.value}
    assert sum(c.tokens_in + c.tokens_out for c in llm_rows) == task.tokens_used
    assert all(c.task_run_id and c.flow_run_id == task.flow_run_id for c in llm_rows)

    events = [log.event for log in await h.rows(models.TaskLog, task.id)]
    for event in (
        "flow.started",
        "step.attempt",
        "step.completed",
        "flow.completed",
        "prefect.log",
    ):
        assert event in events, event

    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[task.flow_run_id])
            )
        )
        flow_run = await client.read_flow_run(task.flow_run_id)
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[task.flow_run_id]))
        )
    assert {a.type for a in found} == {"markdown", "table"}
    report = next(a for a in found if a.type == "markdown")
    assert "orders_raw" in str(report.data)
    # the UI filters a task's runs by the flow run's tag, and steps by their agent's tag
    assert f"task:{task.id}" in flow_run.tags
    assert {run.name.split("-")[0]: run.tags for run in task_runs} == {
        step.name: [f"agent:{step.name}"] for step in steps.ALL_STEPS
    }


async def test_rate_limited_twice_then_fine_succeeds_on_attempt_three(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(faults={"developer": [LLMRateLimitError("429"), LLMRateLimitError("429")]})
    state = await h.run(LOAD)
    assert state.is_completed(), state.message
    task = await h.only_task()
    logs = await h.rows(models.TaskLog, task.id)
    attempts = sorted(
        log.attempt
        for log in logs
        if log.event == "step.attempt" and log.source == "step:developer"
    )
    assert attempts == [1, 2, 3]
    failed = [log for log in logs if log.event == "step.attempt_failed"]
    assert [(f.error_code, f.details["retryable"]) for f in failed] == [
        ("LLM_RATE_LIMIT", True)
    ] * 2
    completed = [
        log for log in logs if log.event == "step.completed" and log.source == "step:developer"
    ]
    assert [c.attempt for c in completed] == [3]
    async with get_client() as client:
        runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[task.flow_run_id]))
        )
    developer_runs = [
        r for r in runs if r.task_key.startswith("developer") or r.name.startswith("developer")
    ]
    assert [r.run_count for r in developer_runs] == [3]


async def test_authentication_error_is_not_retried_and_fails_the_flow(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(faults={"planner": [LLMAuthenticationError("401 bad key")]})
    state = await h.run(LOAD)
    assert state.is_failed()
    assert "LLM_AUTH_FAILED" in (state.message or "")
    task = await h.only_task()
    assert task.current_state == "FAILED"
    logs = await h.rows(models.TaskLog, task.id)
    planner_attempts = [
        log for log in logs if log.event == "step.attempt" and log.source == "step:planner"
    ]
    assert len(planner_attempts) == 1
    assert h.agents_called().count("planner") == 1
    flow_failed = [log for log in logs if log.event == "flow.failed"]
    assert [(f.error_code, f.level) for f in flow_failed] == [("LLM_AUTH_FAILED", "ERROR")]
    trail = await h.rows(models.StateTransition, task.id)
    assert any(t.to_state == "FAILED" and "LLM_AUTH_FAILED" in (t.reason or "") for t in trail)


@pytest.mark.parametrize("budget", [300, 1500], ids=["before-first-call", "mid-run"])
async def test_budget_exceeded_is_critical_never_retried_and_fails_the_flow(
    make_harness: HarnessFactory, budget: int
) -> None:
    h = make_harness()
    state = await h.run(LOAD, token_budget=budget)
    assert state.is_failed()
    assert TokenBudgetExceededError.error_code in (state.message or "")
    task = await h.only_task()
    assert task.current_state == "FAILED"
    logs = await h.rows(models.TaskLog, task.id)
    critical = [
        log for log in logs if log.level == "CRITICAL" and log.error_code == "TOKEN_BUDGET_EXCEEDED"
    ]
    assert {log.event for log in critical} >= {"step.failed", "flow.failed"}
    failed_step = next(log for log in logs if log.event == "step.failed")
    assert failed_step.attempt == 1  # never retried
    # every call that was made is on the ledger; none was made past the budget
    llm_rows = [c for c in await h.rows(models.CostRecord, task.id) if c.kind == "llm"]
    assert len(llm_rows) == len(h.llm.requests)
    assert task.tokens_used <= budget
    if budget == 300:
        assert h.llm.requests == []


async def test_unknown_exception_is_not_retried(make_harness: HarnessFactory) -> None:
    # is_retryable(ValueError) is False: an unknown exception is most likely a bug
    h = make_harness(faults={"parser": [ValueError("boom")]})
    state = await h.run(LOAD)
    assert state.is_failed()
    assert h.agents_called().count("parser") == 1
    task = await h.only_task()
    assert task.current_state == "FAILED"


async def test_a_builtin_timeout_is_retried(make_harness: HarnessFactory) -> None:
    h = make_harness(faults={"parser": [TimeoutError("slow network")]})
    state = await h.run(LOAD)
    assert state.is_completed(), state.message
    assert h.agents_called().count("parser") == 2


async def test_same_idempotency_key_twice_creates_one_task(make_harness: HarnessFactory) -> None:
    h = make_harness()
    first = await h.run(LOAD, idempotency_key="orders-2026-11-28")
    calls = len(h.llm.requests)
    second = await h.run(LOAD, idempotency_key="orders-2026-11-28")
    assert first.is_completed() and second.is_completed()
    assert len(await h.rows(models.Task)) == 1
    assert len(h.llm.requests) == calls  # nothing ran again
    assert (await first.result()).task_id == (await second.result()).task_id


async def test_bad_request_is_rejected_before_any_row_is_written(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    state = await h.run("   ")
    assert state.is_failed()
    assert "request.text" in (state.message or "")
    assert await h.rows(models.Task) == []


async def test_same_key_for_a_task_that_did_not_finish_returns_it_without_running(
    make_harness: HarnessFactory,
) -> None:
    """A task the key already names is the answer as it stands: no step runs again (an
    unfinished one is continued with ``--resume``, not by submitting it again)."""
    h = make_harness()
    broken = make_harness(faults={"developer": [LLMAuthenticationError("bad key")]})
    first = await broken.run(LOAD, idempotency_key="orders-2026-11-29")
    assert first.is_failed()
    task = await h.only_task()
    # the run died before its failure was recorded: the task is still live in the tables
    async with h.db.transaction() as session:
        row = await session.get(models.Task, task.id)
        assert row is not None
        row.current_state = "IN_DEVELOPMENT"

    second = await h.run(LOAD, idempotency_key="orders-2026-11-29")

    assert second.is_completed(), second.message
    assert h.agents_called() == []
    summary = await second.result()
    assert (str(summary.task_id), summary.state) == (str(task.id), "IN_DEVELOPMENT")
    assert len(await h.rows(models.Task)) == 1


async def test_same_key_with_another_request_fails_the_run_and_leaves_the_task_alone(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    first = await h.run(LOAD, idempotency_key="orders-2026-11-30")
    assert first.is_completed(), first.message
    calls = len(h.llm.requests)

    second = await h.run(
        f"load {DATA / 'orders.csv'} into a table called orders_other",
        idempotency_key="orders-2026-11-30",
    )

    assert second.is_failed()
    with pytest.raises(IdempotencyConflictError, match="already names task"):
        await second.result()
    assert len(h.llm.requests) == calls
    [task] = await h.rows(models.Task)
    assert task.current_state == "COMPLETED"
