"""Resuming a lifecycle: running the flow again for an existing task continues from the
state recorded in our tables, without repeating a finished LLM call or a deployment.

The "interrupted" tasks are built by calling the services directly (no Prefect), the
way a process killed mid-run leaves them: the steps before the interruption committed
their output and closing transition, the interrupted one did not.
"""

from __future__ import annotations

import itertools
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import delete, update

from aadap.core.config import PlatformSettings
from aadap.core.enums import ArtifactType, ExecutionStatus
from aadap.core.exceptions import LLMAuthenticationError
from aadap.core.requests import TaskRequest
from aadap.core.states import TaskState
from aadap.db import models
from aadap.db.types import utcnow
from aadap.services import approval_gate, artifacts, authoring, context, deployment, tasks
from aadap.services.cursor import TaskCursor
from tests.orchestration.conftest import DATA, Harness, HarnessFactory

pytestmark = pytest.mark.prefect

LOAD = f"load {DATA / 'orders.csv'} into a table called orders_raw"
# two operations: the offline planner asks for the optimiser, so every step runs
PIPELINE = (
    f"Load {DATA / 'orders.csv'}, keep only rows where status = 'shipped', "
    "then write monthly revenue by region into monthly_revenue"
)
STEPS = (
    "parser",
    "planner",
    "router",
    "developer",
    "reviewer",
    "optimiser",
    "approval",
    "deployer",
)
# the router decides the local platform by rule, without an LLM call
LLM_AGENTS = ("parser", "planner", "developer", "reviewer", "optimiser")
# Resuming reads the same rows on both databases; the first test runs on both, the others
# on SQLite only, to keep the suite's time for what differs.
ONE_BACKEND = pytest.mark.parametrize("backend", ["sqlite"])


async def new_task(h: Harness, text: str) -> models.Task:
    task, created = await tasks.create(
        h.db, h.settings, TaskRequest.parse({"text": text, "working_dir": str(DATA.parent)})
    )
    assert created
    return task


async def drive(h: Harness, task: models.Task, *, through: str) -> None:
    """Run the lifecycle's services directly, in order, up to and including step ``through``."""
    assert through in STEPS, through
    lc = TaskCursor(h.runtime, task.id)
    with context.bind(context.RunContext(task_id=task.id, correlation_id=task.correlation_id)):
        requirement = await authoring.parse(lc)
        if through == "parser":
            return
        plan = await authoring.plan(lc, requirement)
        if through == "planner":
            return
        route = await authoring.route(lc, requirement, plan)
        if through == "router":
            return
        code = await authoring.develop(lc, requirement, plan, route)
        if through == "developer":
            return
        assert (await authoring.validate(lc, requirement, code)).passed
        if through == "reviewer":
            return
        code = await authoring.optimise(lc, plan, code)
        if through == "optimiser":
            return
        assert (await approval_gate.request_approval(lc, code)).approved
        if through == "approval":
            return
        await deployment.deploy(lc, code.code, code.language)


async def trail_of(h: Harness, task_id: uuid.UUID) -> list[models.StateTransition]:
    """The task's ledger, checked to be one contiguous chain that starts at SUBMITTED."""
    trail = sorted(await h.rows(models.StateTransition, task_id), key=lambda t: t.sequence_num)
    assert [t.sequence_num for t in trail] == list(range(1, len(trail) + 1))
    assert trail[0].from_state == "SUBMITTED"
    assert all(a.to_state == b.from_state for a, b in itertools.pairwise(trail))
    return trail


def entries(trail: list[models.StateTransition], state: str) -> int:
    return sum(1 for t in trail if t.to_state == state)


async def llm_cost_rows(h: Harness, task_id: uuid.UUID) -> list[models.CostRecord]:
    return [c for c in await h.rows(models.CostRecord, task_id) if c.kind == "llm"]


def table_rows(h: Harness, table: str) -> int | None:
    """Rows in a table of the task's local DuckDB, or None if the table does not exist."""
    path = h.settings.home / "local.duckdb"
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchone()
        if found is None or found[0] == 0:
            return None
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


async def test_resume_after_planning_skips_the_parser_and_the_planner(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    task = await new_task(h, LOAD)
    await drive(h, task, through="planner")
    assert h.agents_called() == ["parser", "planner"]
    # the planner's commit also entered the router's step (``ENTERS_NEXT``)
    assert (await h.only_task()).current_state == "AGENT_ASSIGNMENT"

    state = await h.run(task_id=str(task.id))

    assert state.is_completed(), state.message
    assert (await state.result()).state == "COMPLETED"
    resumed = h.agents_called()[2:]
    assert resumed[0] == "developer"  # the router of a local task is a rule, not an LLM call
    assert "parser" not in resumed and "planner" not in resumed
    trail = await trail_of(h, task.id)
    assert trail[-1].to_state == "COMPLETED"
    for state_name in ("PARSING", "PARSED", "PLANNING", "PLANNED", "AGENT_ASSIGNED", "DEPLOYING"):
        assert entries(trail, state_name) == 1, state_name
    executions = await h.rows(models.Execution, task.id)
    assert [e.status for e in executions] == [ExecutionStatus.SUCCESS.value]
    # every call is on the cost ledger exactly once, and the task's totals add up
    rows = await llm_cost_rows(h, task.id)
    assert Counter(r.agent_type for r in rows) == Counter(h.agents_called())
    assert len({r.call_id for r in rows}) == len(rows)
    assert (await h.only_task()).tokens_used == sum(r.tokens_in + r.tokens_out for r in rows)


@ONE_BACKEND
async def test_a_task_whose_code_was_generated_resumes_at_validation(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    task = await new_task(h, LOAD)
    await drive(h, task, through="developer")
    # CODE_GENERATED, and the reviewer's step entered in the same commit (``ENTERS_NEXT``)
    assert (await h.only_task()).current_state == "IN_VALIDATION"
    before = len(h.llm.requests)

    state = await h.run(task_id=str(task.id))

    assert state.is_completed(), state.message
    resumed = h.agents_called()[before:]
    assert resumed[0] == "reviewer"
    assert h.agents_called().count("developer") == 1
    trail = await trail_of(h, task.id)
    assert entries(trail, "IN_DEVELOPMENT") == 1
    assert entries(trail, "CODE_GENERATED") == 1
    assert [(t.from_state, t.to_state) for t in trail if t.to_state == "IN_VALIDATION"] == [
        ("CODE_GENERATED", "IN_VALIDATION")
    ]
    code_versions = [
        a
        for a in await h.rows(models.Artifact, task.id)
        if a.artifact_type == ArtifactType.GENERATED_CODE.value
    ]
    assert len(code_versions) == 1
    assert len(await h.rows(models.Execution, task.id)) == 1


@ONE_BACKEND
async def test_a_completed_task_is_not_run_again(make_harness: HarnessFactory) -> None:
    h = make_harness()
    first = await h.run(LOAD)
    assert first.is_completed(), first.message
    task = await h.only_task()
    calls = len(h.llm.requests)
    trail_before = len(await trail_of(h, task.id))

    again = await h.run(task_id=str(task.id))

    assert again.is_completed(), again.message
    assert (await again.result()).state == "COMPLETED"
    assert len(h.llm.requests) == calls
    assert len(await trail_of(h, task.id)) == trail_before
    assert len(await h.rows(models.Execution, task.id)) == 1
    assert table_rows(h, "orders_raw") == 200


@ONE_BACKEND
async def test_a_deployed_task_completes_without_deploying_again(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness()
    task = await new_task(h, LOAD)
    await drive(h, task, through="deployer")
    # the deployment commits COMPLETED with DEPLOYED; a task left in DEPLOYED (by a run of
    # an earlier version, or recorded after an interruption) is completed by the next run
    async with h.db.transaction() as session:
        await session.execute(
            delete(models.StateTransition).where(
                models.StateTransition.task_id == task.id,
                models.StateTransition.to_state == "COMPLETED",
            )
        )
        await session.execute(
            update(models.Task).where(models.Task.id == task.id).values(current_state="DEPLOYED")
        )
    assert (await h.only_task()).current_state == "DEPLOYED"
    calls = len(h.llm.requests)

    state = await h.run(task_id=str(task.id))

    assert state.is_completed(), state.message
    assert len(h.llm.requests) == calls
    trail = await trail_of(h, task.id)
    assert [(t.from_state, t.to_state) for t in trail[-1:]] == [("DEPLOYED", "COMPLETED")]
    assert entries(trail, "DEPLOYING") == 1
    assert len(await h.rows(models.Execution, task.id)) == 1
    assert table_rows(h, "orders_raw") == 200


@ONE_BACKEND
async def test_a_deployment_that_finished_just_before_a_crash_is_not_repeated(
    make_harness: HarnessFactory,
) -> None:
    """Killed after the execution row said SUCCESS but before DEPLOYED was recorded."""
    h = make_harness()
    task = await new_task(h, LOAD)
    await drive(h, task, through="deployer")
    # rewind what follows a successful run: the result artifact, DEPLOYED and COMPLETED
    # (one commit since the execution's outcome joined it; a run of an earlier version
    # could die between the outcome and the rest)
    async with h.db.transaction() as session:
        await session.execute(
            delete(models.StateTransition).where(
                models.StateTransition.task_id == task.id,
                models.StateTransition.to_state.in_(["DEPLOYED", "COMPLETED"]),
            )
        )
        await session.execute(
            delete(models.Artifact).where(
                models.Artifact.task_id == task.id,
                models.Artifact.artifact_type == ArtifactType.EXECUTION_RESULT.value,
            )
        )
        await session.execute(
            update(models.Task).where(models.Task.id == task.id).values(current_state="DEPLOYING")
        )
    calls = len(h.llm.requests)

    state = await h.run(task_id=str(task.id))

    assert state.is_completed(), state.message
    assert len(h.llm.requests) == calls
    assert [e.status for e in await h.rows(models.Execution, task.id)] == ["SUCCESS"]
    assert table_rows(h, "orders_raw") == 200
    final = await h.only_task()
    assert final.current_state == "COMPLETED", (
        f"the flow completed but the task was left in {final.current_state}"
    )
    trail = await trail_of(h, task.id)
    assert [t.to_state for t in trail[-2:]] == ["DEPLOYED", "COMPLETED"]


@ONE_BACKEND
async def test_an_interrupted_deployment_is_never_run_blindly_again(
    make_harness: HarnessFactory,
) -> None:
    """Killed while the platform ran the code: the outcome is unknown, so do not re-run it."""
    h = make_harness()
    task = await new_task(h, LOAD)
    await drive(h, task, through="approval")
    lc = TaskCursor(h.runtime, task.id)
    await lc.enter(TaskState.DEPLOYING, by="deployer")
    code = await authoring.final_code(lc)
    async with h.db.transaction() as session:
        session.add(
            models.Execution(
                task_id=task.id,
                platform="local",
                status=ExecutionStatus.RUNNING.value,
                code_hash=artifacts.content_hash(code.code),
                started_at=utcnow(),
            )
        )

    state = await h.run(task_id=str(task.id))

    assert state.is_failed()
    assert "DEPLOYMENT_FAILED" in (state.message or "")
    assert [e.status for e in await h.rows(models.Execution, task.id)] == ["RUNNING"]
    assert (await h.only_task()).current_state == "FAILED"
    assert table_rows(h, "orders_raw") is None


@ONE_BACKEND
async def test_a_deployment_stopped_at_its_time_limit_ends_failed_and_is_not_retried(
    make_harness: HarnessFactory, tmp_path: Path
) -> None:
    """The local engine interrupts a script at AADAP_PLATFORMS_LOCAL_SQL_TIMEOUT_SECONDS.
    Its end is known, so the execution ends FAILED with the reason; it stayed RUNNING,
    and the retry that followed was refused as "never finished". Nor is the deploy
    retried: statements before the interruption stay applied."""
    big = tmp_path / "big_orders.csv"
    con = duckdb.connect()
    try:
        con.execute(
            f"COPY (SELECT range AS order_id, range % 97 AS amount FROM range(3000000)) "
            f"TO '{big}' (HEADER)"
        )
    finally:
        con.close()
    h = make_harness(platforms=PlatformSettings(local_sql_timeout_seconds=0.05))
    state = await h.run(f"load {big} into a table called big_raw")
    assert state.is_failed()
    assert "DEPLOYMENT_FAILED" in (state.message or ""), state.message
    task = await h.only_task()
    assert task.current_state == "FAILED"
    [execution] = await h.rows(models.Execution, task.id)
    assert execution.status == ExecutionStatus.FAILED.value
    assert "interrupted after 0.05s" in (execution.error or "")
    deployer = [
        log
        for log in await h.rows(models.TaskLog, task.id)
        if log.event == "step.attempt" and log.source == "step:deployer"
    ]
    assert len(deployer) == 1  # not retried


@pytest.mark.slow
@ONE_BACKEND
@pytest.mark.parametrize(
    ("interrupted", "left_in"),
    [("planner", "PLANNING"), ("reviewer", "IN_VALIDATION"), ("optimiser", "IN_OPTIMIZATION")],
)
async def test_a_run_interrupted_inside_any_llm_call_resumes_at_that_call(
    make_harness: HarnessFactory, interrupted: str, left_in: str
) -> None:
    """The interrupted step's call is made again (it never returned); no finished one is.

    IN_DEVELOPMENT is the ``kill -9`` case of ``test_crash.py``; PARSING resumes like PLANNING.
    """
    h = make_harness(faults={interrupted: [LLMAuthenticationError("connection lost")]})
    task = await new_task(h, PIPELINE)
    with pytest.raises(LLMAuthenticationError):
        await drive(h, task, through="deployer")
    assert (await h.only_task()).current_state == left_in
    done_before = Counter(h.agents_called())

    state = await h.run(task_id=str(task.id))

    assert state.is_completed(), f"resumed from {left_in}: {state.message}"
    calls = Counter(h.agents_called())
    assert calls == Counter(dict.fromkeys(LLM_AGENTS, 1)) + Counter({interrupted: 1}), calls
    assert done_before[interrupted] == 1
    trail = await trail_of(h, task.id)
    assert trail[-1].to_state == "COMPLETED"
    assert len(await h.rows(models.Execution, task.id)) == 1
    assert (table_rows(h, "monthly_revenue") or 0) > 0
