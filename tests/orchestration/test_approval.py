"""The human approval gate, end to end: pause with a typed form, decide through the Prefect API
and the CLI, reject back to development, expire, forbid."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pytest
from prefect.settings import PREFECT_API_URL

from aadap.agents._prompt import load_prompt
from aadap.agents._prompt_inputs import read_feedback
from aadap.core.config import SafetySettings
from aadap.db import models
from aadap.llm.messages import LLMRequest
from aadap.orchestration import approval, flowruns
from tests.orchestration.conftest import Harness, HarnessFactory

pytestmark = pytest.mark.prefect

T = TypeVar("T")
DELETE = "run: DELETE FROM orders_raw WHERE amount < 50"


def _seed(h: Harness) -> None:
    h.settings.home.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(h.settings.home / "local.duckdb"))
    try:
        con.execute(
            "CREATE OR REPLACE TABLE orders_raw AS SELECT range AS order_id, range * 10 AS amount FROM range(10)"
        )
    finally:
        con.close()


def _count(h: Harness) -> int:
    con = duckdb.connect(str(h.settings.home / "local.duckdb"), read_only=True)
    try:
        return int(con.execute("SELECT count(*) FROM orders_raw").fetchone()[0])
    finally:
        con.close()


async def _eventually(probe: Callable[[], Awaitable[T | None]], limit: float = 60) -> T:
    deadline = asyncio.get_running_loop().time() + limit
    while asyncio.get_running_loop().time() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("condition not reached in time")


async def _paused_request(h: Harness, seen: int = 0) -> models.ApprovalRequest:
    async def probe() -> models.ApprovalRequest | None:
        pending = [a for a in await h.rows(models.ApprovalRequest) if a.status == "PENDING"]
        tasks = await h.rows(models.Task)
        if len(pending) != 1 or not tasks or tasks[0].flow_run_id is None:
            return None
        state = await flowruns.flow_run_state(tasks[0].flow_run_id)
        return pending[0] if state == "Paused" else None

    return await _eventually(probe)


def _harness(make_harness: HarnessFactory, **safety: Any) -> Harness:
    settings = {"approval_poll_seconds": 1, **safety}
    h = make_harness(safety=SafetySettings(**settings))
    _seed(h)
    return h


async def test_destructive_sandbox_work_pauses_and_an_api_approval_deploys_exactly_that_code(
    make_harness: HarnessFactory,
) -> None:
    h = _harness(make_harness)
    run = asyncio.create_task(h.run(DELETE))
    request = await _paused_request(h)
    assert (request.operation_class, request.risk_level) == ("destructive", "HIGH")
    assert _count(h) == 10  # nothing ran while waiting
    task = (await h.rows(models.Task))[0]
    assert task.current_state == "IN_REVIEW"
    await approval.submit(
        task.flow_run_id or "",
        approval.ApprovalDecision(decision="approve", reviewer="alice", comment="expected cleanup"),
    )
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed(), state.message
    decided = (await h.rows(models.ApprovalRequest))[0]
    assert (decided.status, decided.decided_by, decided.reason) == (
        "APPROVED",
        "alice",
        "expected cleanup",
    )
    execution = (await h.rows(models.Execution))[0]
    assert execution.code_hash == decided.code_hash
    assert _count(h) == 5
    trail = [
        t.to_state
        for t in sorted(await h.rows(models.StateTransition), key=lambda t: t.sequence_num)
    ]
    assert trail[-6:] == [
        "APPROVAL_PENDING",
        "IN_REVIEW",
        "APPROVED",
        "DEPLOYING",
        "DEPLOYED",
        "COMPLETED",
    ]


async def test_the_server_rejects_an_untyped_or_incomplete_decision_and_the_run_stays_paused(
    make_harness: HarnessFactory,
) -> None:
    from prefect.flow_runs import aresume_flow_run

    h = _harness(make_harness)
    run = asyncio.create_task(h.run(DELETE))
    await _paused_request(h)
    task = (await h.rows(models.Task))[0]
    import uuid

    for bad in (
        {"reviewer": "bob"},
        {"decision": "maybe", "reviewer": "bob"},
        {"decision": "approve", "reviewer": ""},
        {"decision": "approve", "reviewer": " \t "},  # a name that is only whitespace
    ):
        with pytest.raises(RuntimeError, match=r"(?i)validation failed"):
            await aresume_flow_run(uuid.UUID(task.flow_run_id or ""), run_input=bad)
    assert await flowruns.flow_run_state(task.flow_run_id or "") == "Paused"
    await approval.submit(
        task.flow_run_id or "", approval.ApprovalDecision(decision="approve", reviewer="bob")
    )
    assert (await asyncio.wait_for(run, 60)).is_completed()


async def test_a_decision_over_the_rest_api_resumes_the_run_and_is_refused_as_through_the_client(
    make_harness: HarnessFactory,
) -> None:
    """``aadap approvals`` sends the decision with plain HTTP when it knows the server's
    address (no Prefect import): the same checks, the same errors, the same resumed run."""
    import uuid

    from aadap.core.exceptions import ApprovalNotWaitingError, InvalidRequestError
    from aadap.orchestration.decision import DecisionFields, submit

    api = str(PREFECT_API_URL.value())
    h = _harness(make_harness)
    run = asyncio.create_task(h.run(DELETE))
    await _paused_request(h)
    flow_run_id = (await h.rows(models.Task))[0].flow_run_id or ""
    with pytest.raises(ApprovalNotWaitingError, match="unknown to the Prefect API"):
        await submit(
            str(uuid.uuid4()), DecisionFields(decision="approve", reviewer="x"), api_url=api
        )
    unchecked = DecisionFields.model_construct(decision="maybe", reviewer="bob", comment="")
    with pytest.raises(InvalidRequestError, match=r"Prefect refused to resume .*(?i:validation)"):
        await submit(flow_run_id, unchecked, api_url=api)  # the server checks the form's schema
    assert await flowruns.flow_run_state(flow_run_id) == "Paused"
    form = DecisionFields(decision="approve", reviewer="dave", comment="over http")
    await submit(flow_run_id, form, api_url=api)
    assert (await asyncio.wait_for(run, 60)).is_completed()
    [request] = await h.rows(models.ApprovalRequest)
    assert (request.status, request.decided_by, request.reason) == ("APPROVED", "dave", "over http")
    with pytest.raises(ApprovalNotWaitingError, match="is Completed, not waiting"):
        await submit(flow_run_id, form, api_url=api)


async def test_rejection_goes_back_to_development_with_the_comment_then_cancels_when_bounded(
    make_harness: HarnessFactory,
) -> None:
    h = _harness(make_harness, max_rejections=1)
    run = asyncio.create_task(h.run(DELETE))
    first = await _paused_request(h)
    task = (await h.rows(models.Task))[0]
    # the offline provider never rewrites user SQL, so script the developer's second round
    h.llm.inject("developer", json.dumps({
        "code": "DELETE FROM orders_raw WHERE amount < 20", "language": "sql",
        "explanation": "narrowed the delete as the reviewer asked", "target_tables": ["orders_raw"], "reads": [],
    }))  # fmt: skip
    await approval.submit(
        task.flow_run_id or "",
        approval.ApprovalDecision(
            decision="reject", reviewer="carol", comment="keep rows under 50"
        ),
    )

    async def second_pending() -> models.ApprovalRequest | None:
        rows = [
            a
            for a in await h.rows(models.ApprovalRequest)
            if a.status == "PENDING" and a.id != first.id
        ]
        if rows and await flowruns.flow_run_state(task.flow_run_id or "") == "Paused":
            return rows[0]
        return None

    await _eventually(second_pending)
    developer_calls = [r for r in h.llm.requests if r.agent == "developer"]
    assert len(developer_calls) == 2
    assert any("keep rows under 50" in note for note in _feedback(developer_calls[1]))
    await approval.submit(
        task.flow_run_id or "", approval.ApprovalDecision(decision="reject", reviewer="carol")
    )
    state = await asyncio.wait_for(run, 60)
    assert state.is_failed()
    assert "APPROVAL_REJECTED" in (state.message or "")
    task = (await h.rows(models.Task))[0]
    assert task.current_state == "CANCELLED"
    assert [
        a.status for a in sorted(await h.rows(models.ApprovalRequest), key=lambda a: a.requested_at)
    ] == [
        "REJECTED",
        "REJECTED",
    ]
    assert _count(h) == 10
    assert await h.rows(models.Execution) == []


async def test_an_approval_that_times_out_expires_and_fails_the_run(
    make_harness: HarnessFactory,
) -> None:
    h = _harness(make_harness, approval_timeout_seconds=3)
    state = await asyncio.wait_for(h.run(DELETE), 60)
    assert state.is_failed()
    assert "APPROVAL_EXPIRED" in (state.message or "")
    request = (await h.rows(models.ApprovalRequest))[0]
    assert (request.status, request.decided_by) == ("EXPIRED", "system:policy")
    assert (await h.rows(models.Task))[0].current_state == "FAILED"
    assert _count(h) == 10


async def test_critical_findings_in_production_are_forbidden(make_harness: HarnessFactory) -> None:
    h = _harness(make_harness)
    state = await h.run("run: DROP TABLE orders_raw", environment="PRODUCTION")
    assert state.is_failed()
    assert "SAFETY_VIOLATION" in (state.message or "")
    request = (await h.rows(models.ApprovalRequest))[0]
    assert (request.status, request.risk_level) == ("FORBIDDEN", "CRITICAL")
    assert _count(h) == 10


async def test_approve_from_the_cli_through_the_prefect_api(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    h = _harness(make_harness)
    run = asyncio.create_task(h.run(DELETE))
    request = await _paused_request(h)
    env = {
        **os.environ,
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "AADAP_DATABASE_URL": h.db.engine.url.render_as_string(hide_password=False),
        "AADAP_HOME": str(tmp_path / "cli-home"),
    }
    code, stdout, stderr = await _cli(env, "approvals", "list", "--format", "json")
    assert code == 0, stderr
    assert str(request.id) in stdout
    code, _, stderr = await _cli(
        {**env, "PYTHONPROFILEIMPORTTIME": "1"},  # every import to stderr
        "approvals", "approve", str(request.id)[:8], "--reviewer", "dave", "--comment", "ok",
    )  # fmt: skip
    assert code == 0, stderr
    imported = {line.split("|")[-1].strip() for line in stderr.splitlines() if "|" in line}
    assert "aadap.orchestration.decision" in imported
    assert "prefect" not in imported  # the decision went over HTTP: no second of imports
    state = await asyncio.wait_for(run, 60)
    assert state.is_completed(), state.message
    decided = (await h.rows(models.ApprovalRequest))[0]
    assert (decided.status, decided.decided_by) == ("APPROVED", "dave")
    code, _, stderr = await _cli(env, "approvals", "approve", str(request.id)[:8])
    assert code == 2
    assert "APPROVED" in stderr


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "aadap", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), out.decode(), err.decode()


def _feedback(request: LLMRequest) -> list[str]:
    """The feedback the developer was given, read off its prompt (the only channel)."""
    values = load_prompt("developer").read_user(request.messages[-1].content)
    assert values is not None
    return read_feedback(values["feedback"])
