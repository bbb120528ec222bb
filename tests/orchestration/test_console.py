"""The operator's console: a lifecycle run is named after its request, tagged, and its
Prefect run log tells the story (read back through the Prefect API)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
    TaskRunFilter,
    TaskRunFilterFlowRunId,
)
from prefect.input.actions import aread_flow_run_input
from prefect.logging.handlers import APILogHandler

from aadap.agents import GeneratedCode
from aadap.core.enums import Language
from aadap.core.exceptions import LLMRateLimitError
from aadap.core.requests import TaskRequest
from aadap.db import models
from aadap.orchestration import approval, run_artifacts
from aadap.orchestration.lifecycle import run_name
from aadap.orchestration.story import WaitingIsInfo
from aadap.platforms.protocol import TableInfo
from aadap.services.summary import LifecycleSummary
from tests.orchestration.conftest import DATA, Harness, HarnessFactory
from tests.orchestration.test_resume import drive, new_task, table_rows

LOAD = f"load {DATA / 'orders.csv'} into a table called orders_raw"


async def _run_log(flow_run_id: str) -> list[Any]:
    await APILogHandler.aflush()
    async with get_client() as client:
        return list(
            await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(flow_run_id)]))
            )
        )


@pytest.mark.prefect
async def test_a_run_is_named_tagged_and_its_log_tells_the_story(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    state = await h.run(LOAD, title="Load the orders", created_by="dana")
    assert state.is_completed(), state.message
    task = await h.only_task()
    assert task.flow_run_id is not None
    async with get_client() as client:
        flow_run = await client.read_flow_run(uuid.UUID(task.flow_run_id))
        task_runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run.id]))
        )
    assert flow_run.name == "Load the orders · sandbox"
    # the completion hook's row names the run as the UI does, not by its creation name
    completed = [r for r in await h.rows(models.TaskLog, task.id) if r.event == "flow.completed"]
    assert [r.message for r in completed] == ["flow run Load the orders · sandbox completed"]
    assert {f"task:{task.id}", "env:sandbox", "platform:local", "requester:dana"} <= set(
        flow_run.tags
    )
    names = {r.name for r in task_runs}
    assert {"parser", "planner", "router", "developer-round-1", "reviewer-round-1"} <= names
    assert {"approval-round-1", "deployer"} <= names

    log = await _run_log(task.flow_run_id)
    lines = [(r.level, r.message) for r in log]
    messages = [m for _, m in lines]
    assert (logging.INFO, "PARSING → PARSED") in lines
    assert any(m.startswith("DEPLOYED → COMPLETED") for m in messages)
    # one line per LLM call, naming agent, model, tokens and cost; as many as cost rows
    calls = [m for m in messages if m.startswith("LLM call by ")]
    llm_rows = [c for c in await h.rows(models.CostRecord, task.id) if c.kind == "llm"]
    assert len(calls) == len(llm_rows) > 0
    assert all(" tokens in, " in m and "$" in m for m in calls)
    assert any(m.startswith("safety analysis: operation class ") for m in messages)
    assert any("AUTO_APPROVED by policy" in m for m in messages)
    assert any(m.startswith("deployed on local: ") and "rows affected" in m for m in messages)
    # the story is not copied back into task_logs: they hold what it tells already
    mirrored = [
        r.message for r in await h.rows(models.TaskLog, task.id) if r.event == "prefect.log"
    ]
    assert not any(m.startswith(("LLM call by ", "PARSING → ")) for m in mirrored)


@pytest.mark.prefect
async def test_a_retry_is_told_with_its_reason(make_harness: HarnessFactory) -> None:
    h = make_harness(faults={"planner": [LLMRateLimitError("429 slow down")]})
    state = await h.run(LOAD)
    assert state.is_completed(), state.message
    task = await h.only_task()
    messages = [(r.level, r.message) for r in await _run_log(task.flow_run_id or "")]
    assert any(
        level == logging.WARNING
        and "planner: attempt 1 failed, will retry" in m
        and "429 slow down" in m
        for level, m in messages
    ), messages


async def _resumed_after(h: Harness, step: str) -> tuple[models.Task, str]:
    """A task driven through ``step`` by the services, then run to completion by the flow;
    the task and its flow run's id."""
    task = await new_task(h, LOAD)
    await drive(h, task, through=step)
    state = await h.run(task_id=str(task.id))
    assert state.is_completed(), state.message
    flow_run_id = (await h.only_task()).flow_run_id
    assert flow_run_id is not None
    return task, flow_run_id


@pytest.mark.prefect
async def test_a_resumed_run_says_which_steps_it_restored(make_harness: HarnessFactory) -> None:
    h = make_harness()
    task, flow_run_id = await _resumed_after(h, "planner")
    messages = [r.message for r in await _run_log(flow_run_id)]
    restored = [m for m in messages if "restored from the record" in m]
    assert [m.split(":")[0] for m in restored] == ["parser", "planner"], messages
    assert any(m.startswith(f"continuing task {task.id} from its record") for m in messages)
    # the work this run did is told once, not as restored
    assert not any(m.startswith(("developer", "router")) and "restored" in m for m in messages)


@pytest.mark.prefect
async def test_a_run_resumed_at_its_approval_runs_only_approval_and_deploy(
    make_harness: HarnessFactory,
) -> None:
    """A suspend re-runs the flow from the top once decided: the authoring steps are
    restored from the record in the flow, not as six task runs that only read it back
    (each one appeared a second time in the UI and cost the decision's wait)."""
    h = make_harness()
    _, flow_run_id = await _resumed_after(h, "approval")
    async with get_client() as client:
        task_runs = await client.read_task_runs(
            task_run_filter=TaskRunFilter(
                flow_run_id=TaskRunFilterFlowRunId(any_=[uuid.UUID(flow_run_id)])
            )
        )
    assert sorted(r.name for r in task_runs) == ["approval-round-1", "deployer"]
    messages = [r.message for r in await _run_log(flow_run_id)]
    assert any(
        m.startswith("parser to optimiser: restored from the record (APPROVED)") for m in messages
    ), messages
    assert any(m.startswith("approval-round-1: restored from the record") for m in messages)
    assert table_rows(h, "orders_raw") is not None  # deployed with the recorded code
    assert h.agents_called().count("developer") == 1  # no agent ran twice


def test_run_names_read_like_a_work_queue() -> None:
    assert run_name({"text": "load  a.csv\ninto b", "environment": "PRODUCTION"}, None) == (
        "load a.csv · production"
    )
    # the name from the parameters is the one the task's title gives (no rename later)
    text = "y" * 90 + "\nmore"
    title = TaskRequest.parse({"text": text}).effective_title
    assert run_name({"text": text}, None) == run_name({"title": title}, None)
    long = run_name({"text": "x" * 200}, None)
    assert long.endswith("… · sandbox") and len(long) < 80
    assert run_name(None, "0123456789abcdef") == "resume task 01234567"


def test_only_the_waiting_end_of_a_run_is_lowered_to_info() -> None:
    waiting = WaitingIsInfo()

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("prefect.flow_runs", logging.ERROR, "", 0, msg, None, None)

    suspended = record("Finished in state Suspended('Run is suspended.')")
    assert waiting.filter(suspended) and suspended.levelno == logging.INFO
    assert suspended.levelname == "INFO"
    failed = record("Finished in state Failed('boom')")
    assert waiting.filter(failed) and failed.levelno == logging.ERROR


@pytest.mark.prefect
async def test_the_approval_form_shows_the_request_and_the_report_records_the_decision(
    make_harness: HarnessFactory,
) -> None:
    from tests.orchestration.test_approval import DELETE, _harness, _paused_request

    h = _harness(make_harness)
    run = asyncio.create_task(h.run(DELETE, created_by="dana"))
    request = await _paused_request(h)
    task = await h.only_task()
    # the form the paused run registered: the request, who asked, and the table it
    # writes, which exists with its 10 rows (counted by the local engine)
    shown = await aread_flow_run_input(
        f"paused-{approval.pause_key(request)}-description", flow_run_id=task.flow_run_id
    )
    assert "**Asked by:** dana" in shown and f"> {DELETE}" in shown, shown
    assert "- **writes** `orders_raw`: exists · **10 rows**" in shown, shown
    long_line = "-- " + "x" * 150
    code = GeneratedCode(
        code=f"DELETE FROM orders_raw WHERE amount < 50\n{long_line}",
        language=Language.SQL,
        explanation="delete the small orders",
        target_tables=["orders_raw"],
        reads=["orders_raw"],
    )
    form = approval.describe(request, code, "0.000000", task)
    assert "**Asked by:** dana" in form and f"> {DELETE}" in form
    assert "### What the code touches" in form
    assert "- **writes** `orders_raw`: unknown: not checked" in form
    facts = [TableInfo("orders_raw", exists=False)]
    assert "- **writes** `orders_raw`: **does not exist yet** (will be created)" in (
        approval.describe(request, code, "0", task, facts)
    )
    cannot = approval.describe(request, code, "0", task, "databricks schema is not set")
    assert "- **writes** `orders_raw`: unknown: databricks schema is not set" in cannot
    paths = code.model_copy(update={"reads": ["data/orders.csv"], "target_tables": []})
    assert "- **reads** `data/orders.csv`: a file path (not a table)" in (
        approval.describe(request, paths, "0", task, [])
    )
    assert long_line not in form and "↳" in form  # wrapped to fit the modal
    assert all(
        len(line) <= approval.WRAP + 4 for line in approval.wrap_code(long_line).splitlines()
    )
    comment = approval.input_schema()["properties"]["comment"]
    assert (comment["type"], comment["default"]) == ("string", "")  # a plain text field
    await approval.submit(
        task.flow_run_id or "",
        approval.ApprovalDecision(decision="approve", reviewer="alice", comment="expected"),
    )
    assert (await asyncio.wait_for(run, 60)).is_completed()
    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(task.flow_run_id or "")])
            )
        )
    report = str(next(a for a in found if a.type == "markdown").data)
    assert "## Approval" in report and "`APPROVED` by alice" in report
    assert "**Comment / reason:** expected" in report
    log = [r.message for r in await _run_log(task.flow_run_id or "")]
    assert any(m.endswith("APPROVED by alice; comment: expected") for m in log), log


def test_the_cost_table_fits_the_screen_and_agrees_with_the_summary() -> None:
    entry = {"tokens_in": 300, "tokens_out": 100, "cost_usd": Decimal("0.0000012")}
    summary = LifecycleSummary(
        task_id=str(uuid.uuid4()), title="t", state="COMPLETED", environment="SANDBOX",
        platform="local", tokens_used=1200, cost_usd=Decimal("0.0001036"), llm_calls=3,
        compute_runs=1,
        cost_by_agent=[
            {"agent": "deploy", "kind": "compute", "calls": 1, "tokens_in": 0, "tokens_out": 0,
             "cost_usd": Decimal("0.0001")},
            {"agent": "developer", "kind": "llm", "calls": 3, **entry},
        ],
    )  # fmt: skip
    table = run_artifacts.cost_table(summary)
    assert table == [
        {"agent": "deploy", "kind": "compute", "calls": 1, "tokens": 0, "cost": "$0.0001"},
        {"agent": "developer", "kind": "llm", "calls": 3, "tokens": 400, "cost": "$0.0000012"},
    ]
    text = run_artifacts.markdown(summary)
    assert "cost $0.0001036 · LLM calls 3 · compute runs 1" in text
    assert "(3 LLM calls + 1 compute runs = the 4 of the table)" in text
    assert "| developer | llm | 3 | 300 | 100 | $0.0000012 |" in text


def test_the_form_names_what_sql_writes_and_reads_beyond_what_was_declared() -> None:
    def code(sql: str, **declared: list[str]) -> GeneratedCode:
        return GeneratedCode(code=sql, language=Language.SQL, explanation="x", **declared)

    assert approval.touched(code("DELETE FROM orders_raw WHERE amount < 50"), "local") == (
        ["orders_raw"],
        [],
    )
    merged = code(
        "INSERT INTO s.t SELECT * FROM y JOIN read_csv('a.csv') USING (id)", reads=["a.csv"]
    )
    assert approval.touched(merged, "local") == (["s.t"], ["a.csv", "y"])
    assert approval.table_names(merged, "local") == ["s.t", "y"]  # a file is no table
    assert approval.touched(code("SELECT FROM WHERE ((("), "local") == ([], [])
    long_word = "p" * 250
    wrapped = approval.wrap_text(f"bad path {long_word}")
    assert all(len(part) <= approval.WRAP for part in wrapped.replace("\u200b", " ").split())
