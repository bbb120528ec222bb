"""A step's finish (``TaskCursor.finish_step``, ``TaskCursor.commit``) on both databases: its
output artifact, its moves, its own settlement and any other row it writes commit together,
in one transaction, or not at all."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aadap.agents.offline import OfflineLLMClient
from aadap.core.enums import ArtifactType, CostStatus
from aadap.core.exceptions import StateConflictError
from aadap.core.requests import TaskRequest
from aadap.core.states import TaskState
from aadap.db import models
from aadap.db.session import Database
from aadap.llm.messages import Completion, Usage
from aadap.services import artifacts, context, costs, ledger, tasks
from aadap.services.context import RunContext, Spend
from aadap.services.cursor import TaskCursor
from aadap.services.runtime import Runtime
from tests.conftest import settings_for

S = TaskState


async def started(db: Database, home: Path) -> tuple[TaskCursor, models.Task]:
    """A new task in PARSING (the parser's first move), known to a runtime as such."""
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), home)
    rt = Runtime.build(settings, db, OfflineLLMClient())
    task, _ = await tasks.create(
        db, settings, TaskRequest.parse({"text": "list tables"}), first_step=(S.PARSING, "parser")
    )
    rt.remember(task)
    return TaskCursor(rt, task.id), task


async def cancelled_meanwhile(db: Database, task: models.Task) -> None:
    """Another writer cancels the task (in PARSING) behind the run's back."""
    async with db.transaction() as session:
        await ledger.record_transition(
            session, task_id=task.id, to_state=S.CANCELLED, triggered_by="operator",
            expected_from=S.PARSING,
        )  # fmt: skip


async def pending_call(db: Database, task: models.Task, task_run_id: str) -> None:
    """An LLM call's cost row, committed as ``pending`` the moment the call returned."""
    ctx = RunContext(task.id, task.correlation_id, "flow-run", task_run_id, "parser", 1)
    completion = Completion("{}", "offline", "offline", Usage(10, 5, Decimal("0.001")), 3)
    await costs.record_llm_call(db, ctx=ctx, agent="parser", completion=completion)


async def rows(db: Database, model: Any, task_id: uuid.UUID) -> list[Any]:
    async with db.sessions() as session:
        return list(
            (await session.execute(select(model).where(model.task_id == task_id))).scalars()
        )


async def test_a_finished_step_commits_its_output_and_moves_together(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)
    await pending_call(db, task, "task-run-1")

    row = await lc.finish_step(
        S.PARSED, by="parser", output='{"goal": "tables"}', kind=ArtifactType.REQUIREMENT,
        name="requirement", reason="parsed",
    )  # fmt: skip

    assert (row.version, row.parent_id) == (1, None)
    [stored] = await rows(db, models.Artifact, task.id)
    assert (stored.id, stored.version, stored.content) == (row.id, 1, '{"goal": "tables"}')
    async with db.sessions() as session:
        trail = await ledger.history(session, task.id)
        state = await ledger.current_state(session, task.id)
    # the parser's move, with the artifact it stored, then the planner's entry (ENTERS_NEXT)
    assert [(t.from_state, t.to_state, t.triggered_by, t.sequence_num) for t in trail] == [
        ("SUBMITTED", "PARSING", "parser", 1),
        ("PARSING", "PARSED", "parser", 2),
        ("PARSED", "PLANNING", "planner", 3),
    ]
    assert trail[1].metadata_ == {
        "artifact_id": str(row.id), "version": 1, "content_hash": stored.content_hash,
    }  # fmt: skip
    assert trail[1].reason == "parsed"
    assert state is S.PLANNING and await lc.state() is S.PLANNING
    [cost] = await rows(db, models.CostRecord, task.id)
    assert cost.status == CostStatus.PENDING.value  # outside a step: its hook settles it


async def test_a_stale_state_stores_no_output(db: Database, tmp_path: Path) -> None:
    lc, task = await started(db, tmp_path)
    await cancelled_meanwhile(db, task)

    with pytest.raises(StateConflictError) as raised:
        await lc.finish_step(
            S.PARSED, by="parser", output="{}", kind=ArtifactType.REQUIREMENT, name="requirement"
        )

    assert raised.value.details == {
        "expected": "PARSING", "actual": "CANCELLED", "to_state": "PARSED",
    }  # fmt: skip
    assert await rows(db, models.Artifact, task.id) == []
    async with db.sessions() as session:
        assert [t.to_state for t in await ledger.history(session, task.id)] == [
            "PARSING",
            "CANCELLED",
        ]


async def test_an_unchanged_output_keeps_its_version_and_the_move_names_it(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)
    first = await lc.finish_step(
        S.PARSED, by="parser", output="same", kind=ArtifactType.REQUIREMENT, name="requirement"
    )
    # the next step stores the same content under the same key: no second version
    again = await lc.finish_step(
        S.PLANNED, by="planner", output="same", kind=ArtifactType.REQUIREMENT, name="requirement"
    )

    assert (again.id, again.version) == (first.id, 1)
    assert len(await rows(db, models.Artifact, task.id)) == 1
    async with db.sessions() as session:
        trail = await ledger.history(session, task.id)
    planned = next(t for t in trail if t.to_state == "PLANNED")
    assert (planned.metadata_["artifact_id"], planned.metadata_["version"]) == (str(first.id), 1)
    assert [t.to_state for t in trail][-1] == "AGENT_ASSIGNMENT"


async def test_a_new_version_chains_to_the_one_before(db: Database, tmp_path: Path) -> None:
    lc, task = await started(db, tmp_path)
    first = await lc.finish_step(
        S.PARSED, by="parser", output="v1", kind=ArtifactType.REQUIREMENT, name="requirement"
    )
    second = await lc.finish_step(
        S.PLANNED, by="planner", output="v2", kind=ArtifactType.REQUIREMENT, name="requirement"
    )

    assert (second.version, second.parent_id) == (2, first.id)
    async with db.sessions() as session:
        newest = await artifacts.latest(
            session, task_id=task.id, artifact_type=ArtifactType.REQUIREMENT, name="requirement"
        )
        trail = await ledger.history(session, task.id)
    assert newest is not None and (newest.id, newest.parent_id) == (second.id, first.id)
    planned = next(t for t in trail if t.to_state == "PLANNED")
    assert planned.metadata_["version"] == 2


# --- TaskCursor.commit: any step's writes with its moves ----------------------------------


def _writes(task: models.Task) -> dict[str, Any]:
    """One of each kind of write ``TaskCursor.commit`` takes, as the deployer makes them."""
    execution = models.Execution(
        task_id=task.id, platform="local", status="RUNNING", code_hash="c0de"
    )  # status, metadata, created_at: left to their defaults
    compute = costs.compute_row(
        ctx=None, task_id=task.id, platform="local", duration_ms=1800,
        usd_per_hour=Decimal("2"), call_id=f"compute-{uuid.uuid4()}",
    )  # fmt: skip
    return {
        "output": artifacts.new_row(
            task_id=task.id,
            artifact_type=ArtifactType.EXECUTION_RESULT,
            name="result",
            content='{"rows": 3}',
        ),
        "also": [
            artifacts.new_row(
                task_id=task.id,
                artifact_type=ArtifactType.DECISION_EXPLANATION,
                name="approval",
                content='{"why": "sandbox"}',
                metadata={"k": [1, "two"]},
            )
        ],
        "rows": [execution],
        "cost_row": compute,
    }


async def test_a_commit_writes_every_kind_of_row_with_its_moves(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)
    writes = _writes(task)
    [execution] = writes["rows"]
    hops = [
        ledger.Hop(S.PARSED, "parser", "parsed"),
        ledger.Hop(S.PLANNING, "planner", None, {"note": "next"}),
    ]

    done = await lc.commit(hops, **writes)
    await lc.commit(
        [ledger.Hop(S.PLANNED, "planner")],
        updates=[(models.Execution.__table__, execution.id, {"status": "SUCCESS", "rows_affected": 3})],
    )  # fmt: skip

    output = writes["output"]
    assert done.output is output and (output.version, output.parent_id) == (1, None)
    assert done.totals == (0, Decimal("0.001"))  # 1.8 s at $2/h, added to zero
    async with db.sessions() as session:
        trail = await ledger.history(session, task.id)
        row = await session.get(models.Task, task.id, populate_existing=True)
        stored = {a.name: a for a in (await session.execute(select(models.Artifact))).scalars()}
        [ran] = (await session.execute(select(models.Execution))).scalars()
        [cost] = (await session.execute(select(models.CostRecord))).scalars()
    assert [(t.to_state, t.triggered_by, t.reason) for t in trail[1:]] == [
        ("PARSED", "parser", "parsed"), ("PLANNING", "planner", None), ("PLANNED", "planner", None),
    ]  # fmt: skip
    assert trail[1].metadata_ == {
        "artifact_id": str(output.id), "version": 1, "content_hash": output.content_hash,
    }  # fmt: skip
    assert trail[2].metadata_ == {"note": "next"}
    assert row is not None and row.current_state == "PLANNED"
    assert (row.tokens_used, row.cost_usd) == (0, Decimal("0.001"))
    assert stored["result"].content == '{"rows": 3}' and stored["result"].version == 1
    assert stored["approval"].metadata_ == {"k": [1, "two"]}
    assert (stored["approval"].version, stored["approval"].parent_id) == (1, None)
    # defaults a flush would have applied, applied to the row the caller holds too
    assert (ran.id, ran.status, ran.rows_affected, ran.code_hash) == (
        execution.id,
        "SUCCESS",
        3,
        "c0de",
    )
    assert ran.metadata_ == {} and ran.created_at == execution.created_at is not None
    assert (cost.call_id, cost.cost_usd, cost.status) == (
        writes["cost_row"].call_id, Decimal("0.001"), CostStatus.SUCCEEDED.value,
    )  # fmt: skip


async def test_a_commit_from_a_stale_state_writes_none_of_its_rows(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)
    await cancelled_meanwhile(db, task)

    with pytest.raises(StateConflictError, match="CANCELLED"):
        await lc.commit([ledger.Hop(S.PARSED, "parser")], **_writes(task))

    for model in (models.Artifact, models.Execution, models.CostRecord):
        assert await rows(db, model, task.id) == []
    async with db.sessions() as session:
        row = await session.get(models.Task, task.id, populate_existing=True)
    assert row is not None and (row.current_state, row.cost_usd) == ("CANCELLED", Decimal(0))


async def test_an_artifact_written_alongside_chains_to_its_newest_version_unless_unchanged(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)

    def report(content: str) -> models.Artifact:
        return artifacts.new_row(
            task_id=task.id, artifact_type=ArtifactType.REVIEW_REPORT, name="revalidation",
            content=content,
        )  # fmt: skip

    first = report("passed v1")
    await lc.commit([ledger.Hop(S.PARSED, "parser")], also=[first])
    await lc.commit([ledger.Hop(S.PLANNING, "planner")], also=[report("passed v1")])
    await lc.commit([ledger.Hop(S.PLANNED, "planner")], also=[report("passed v2")])

    stored = sorted(await rows(db, models.Artifact, task.id), key=lambda a: a.version)
    assert [(a.content, a.version) for a in stored] == [("passed v1", 1), ("passed v2", 2)]
    assert (stored[0].id, stored[1].parent_id) == (first.id, first.id)


async def test_a_new_task_and_its_first_move_commit_together(db: Database, tmp_path: Path) -> None:
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), tmp_path)
    request = TaskRequest.parse(
        {"text": "list tables", "idempotency_key": "k-1", "usd_budget": "0.5"}
    )

    task, created = await tasks.create(
        db, settings, request, flow_run_id="flow-1", first_step=(S.PARSING, "parser")
    )

    assert created and task.current_state == "PARSING"
    async with db.sessions() as session:
        row = await session.get(models.Task, task.id)
        trail = await ledger.history(session, task.id)
    assert row is not None
    assert (row.current_state, row.flow_run_id, row.idempotency_key) == ("PARSING", "flow-1", "k-1")
    assert (row.tokens_used, row.cost_usd, row.cost_budget_usd) == (0, Decimal(0), Decimal("0.5"))
    assert row.created_at == task.created_at and row.updated_at is not None
    assert row.metadata_["connection"] is None and "working_dir" in row.metadata_
    assert [(t.from_state, t.to_state, t.triggered_by, t.sequence_num) for t in trail] == [
        ("SUBMITTED", "PARSING", "parser", 1)
    ]
    again, created_again = await tasks.create(
        db, settings, request, first_step=(S.PARSING, "parser")
    )
    assert (again.id, created_again) == (task.id, False)


async def test_two_versions_of_one_artifact_in_one_commit_are_chained(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)
    first, second = (
        artifacts.new_row(
            task_id=task.id,
            artifact_type=ArtifactType.REVIEW_REPORT,
            name="revalidation",
            content=content,
        )
        for content in ("v1", "v2")
    )
    await lc.commit([ledger.Hop(S.PARSED, "parser")], also=[first, second])

    stored = sorted(await rows(db, models.Artifact, task.id), key=lambda a: a.version)
    assert [(a.id, a.version, a.parent_id) for a in stored] == [
        (first.id, 1, None), (second.id, 2, first.id),
    ]  # fmt: skip


async def _two_attempts(db: Database, task: models.Task, task_run_id: str) -> RunContext:
    """A step whose first attempt's call failed it and whose second attempt's call
    returned; the context of that second attempt, its calls counted by the run."""
    completion = Completion("{}", "offline", "offline", Usage(10, 5, Decimal("0.001")), 3)
    for attempt in (1, 2):
        ctx = RunContext(task.id, task.correlation_id, "flow-run", task_run_id, "parser", attempt)
        await costs.record_llm_call(db, ctx=ctx, agent="parser", completion=completion)
    spend = Spend(30, Decimal("0.002"), 50_000, None, calls={task_run_id: 2})
    return RunContext(
        task.id, task.correlation_id, "flow-run", task_run_id, "parser", 2, spend=spend
    )


async def test_a_finished_step_settles_its_own_calls_in_the_commit_of_its_finish(
    db: Database, tmp_path: Path
) -> None:
    """A process killed right after the commit leaves the calls settled: no hook needed."""
    lc, task = await started(db, tmp_path)
    ctx = await _two_attempts(db, task, "task-run-7")

    with context.bind(ctx):
        await lc.finish_step(
            S.PARSED, by="parser", output='{"goal": "tables"}', kind=ArtifactType.REQUIREMENT,
            name="requirement",
        )  # fmt: skip

    settled = sorted((c.attempt, c.status) for c in await rows(db, models.CostRecord, task.id))
    assert settled == [(1, CostStatus.FAILED.value), (2, CostStatus.SUCCEEDED.value)]
    assert ctx.spend is not None and not ctx.spend.unsettled("task-run-7")  # the hook skips it


async def test_a_step_whose_finish_is_refused_settles_none_of_its_calls(
    db: Database, tmp_path: Path
) -> None:
    lc, task = await started(db, tmp_path)
    ctx = await _two_attempts(db, task, "task-run-8")
    await cancelled_meanwhile(db, task)

    with context.bind(ctx), pytest.raises(StateConflictError):
        await lc.finish_step(
            S.PARSED, by="parser", output='{"goal": "tables"}', kind=ArtifactType.REQUIREMENT,
            name="requirement",
        )  # fmt: skip

    statuses = {c.status for c in await rows(db, models.CostRecord, task.id)}
    assert statuses == {CostStatus.PENDING.value}
    assert ctx.spend is not None and ctx.spend.unsettled("task-run-8")
