"""The deploy invariants, attacked directly through the services (no flow to lean on)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import literal_column, select

from aadap.agents import GeneratedCode
from aadap.core import locks
from aadap.core.enums import ArtifactType, Language
from aadap.core.exceptions import (
    ApprovalRequiredError,
    PlatformBusyError,
    StateConflictError,
    ValidationFailedError,
    is_retryable,
)
from aadap.core.states import TaskState
from aadap.db import models
from aadap.db.base import Base
from aadap.db.session import Database
from aadap.services import (
    approval_gate,
    artifacts,
    authoring,
    context,
    deployment,
    ledger,
    revalidation,
)
from aadap.services.cursor import ENTERS_NEXT, TaskCursor
from tests.services.developed import develop


@pytest.fixture
async def validated(
    db: Database, tmp_path: Path
) -> AsyncIterator[tuple[TaskCursor, GeneratedCode]]:
    """A task driven through the services up to VALIDATION_PASSED with the offline LLM."""
    done = await develop(db, tmp_path / "home", "orders_gate")
    with context.bind(done.run_context()):
        review = await authoring.validate(done.lc, done.requirement, done.code)
        assert review.passed
        yield done.lc, done.code


async def _executions(lc: TaskCursor) -> list[models.Execution]:
    async with lc.rt.db.sessions() as session:
        return list((await session.execute(select(models.Execution))).scalars())


async def test_deploy_refuses_code_without_an_approval(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    lc, code = validated
    with pytest.raises(ApprovalRequiredError, match="no APPROVED"):
        await deployment.deploy(lc, code.code, code.language)
    with pytest.raises(ApprovalRequiredError):
        await deployment.deploy(lc, "DROP TABLE orders_gate", Language.SQL)
    assert await _executions(lc) == []
    assert (await lc.state()).value == "VALIDATION_PASSED"


async def test_approving_one_hash_does_not_let_another_deploy(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    lc, code = validated
    outcome = await approval_gate.request_approval(lc, code)
    assert outcome.approved
    assert outcome.code_hash == artifacts.content_hash(code.code)
    for other in (
        code.code + "\n-- harmless?",
        "DROP TABLE orders_gate",
        code.code.replace("orders_gate", "orders"),
    ):
        with pytest.raises(ApprovalRequiredError):
            await deployment.deploy(lc, other, Language.SQL)
    assert await _executions(lc) == []
    execution = await deployment.deploy(lc, code.code, code.language)
    assert execution.status == "SUCCESS"
    again = await deployment.deploy(lc, code.code, code.language)  # resumed: never deployed twice
    assert again == execution
    [row] = await _executions(lc)
    # what the steps hand across the Prefect task boundary: plain values, no ORM row
    assert execution == deployment.Deployment.of(row)
    assert not isinstance(execution, models.Execution)
    for value in (*dataclasses.astuple(execution), *dataclasses.astuple(outcome)):
        assert not isinstance(value, Base)


async def test_code_edited_after_approval_is_neither_deployed_nor_approved_without_revalidation(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    lc, code = validated
    assert (await approval_gate.request_approval(lc, code)).approved
    edited = code.model_copy(update={"code": code.code + " WHERE"})  # no longer parses
    row = await _store_code(lc, ArtifactType.GENERATED_CODE, edited, edit_message="hand edit")
    assert row.version == 2
    with pytest.raises(ApprovalRequiredError):
        await deployment.deploy(lc, edited.code, edited.language)
    with pytest.raises(ValidationFailedError, match="syntax"):
        await revalidation.revalidate(lc, edited)
    assert await _executions(lc) == []
    # the failed re-validation is on record, committed before the error
    assert await _revalidations(lc) == [(artifacts.content_hash(edited.code), False)]


async def _store_code(
    lc: TaskCursor, kind: ArtifactType, code: GeneratedCode, edit_message: str | None = None
) -> models.Artifact:
    """A new version of the task's code artifact, committed (a hand edit, an optimiser)."""
    row = artifacts.new_row(
        task_id=lc.task_id, artifact_type=kind, name="code", content=code.model_dump_json(),
        edit_message=edit_message,
    )  # fmt: skip
    async with lc.rt.db.transaction() as session:
        return await artifacts.store(session, row)


async def _revalidations(lc: TaskCursor) -> list[tuple[str, bool]]:
    async with lc.rt.db.sessions() as session:
        rows = await session.execute(
            select(models.Artifact.content).where(
                models.Artifact.task_id == lc.task_id, models.Artifact.name == "revalidation"
            )
        )
        reports = [json.loads(content) for content in rows.scalars()]
    return [(r["code_sha256"], r["review"]["passed"]) for r in reports]


async def test_changed_code_that_parses_is_revalidated_with_its_approval_and_deploys(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    """The optimiser's version differs from the reviewed one: the approval request carries
    a passed re-validation of it, and points at the optimiser's artifact."""
    lc, code = validated
    optimised = code.model_copy(update={"code": code.code + "\n-- optimised"})
    stored = await _store_code(lc, ArtifactType.OPTIMIZED_CODE, optimised)
    assert await _revalidations(lc) == []
    outcome = await approval_gate.request_approval(lc, optimised)
    assert outcome.approved
    assert outcome.code_artifact_id == stored.id
    assert await _revalidations(lc) == [(artifacts.content_hash(optimised.code), True)]
    execution = await deployment.deploy(lc, optimised.code, optimised.language)
    assert execution.status == "SUCCESS"


@pytest.mark.parametrize("status", ["PENDING", "REJECTED", "EXPIRED", "FORBIDDEN"])
async def test_deploy_refuses_validated_code_whose_request_was_not_approved(
    validated: tuple[TaskCursor, GeneratedCode], status: str
) -> None:
    lc, code = validated
    async with lc.rt.db.transaction() as session:
        session.add(
            models.ApprovalRequest(
                task_id=lc.task_id, operation_class="write", environment="SANDBOX", risk_level="LOW",
                status=status, code_hash=artifacts.content_hash(code.code), requested_by="policy",
            )
        )  # fmt: skip
    with pytest.raises(ApprovalRequiredError, match="no APPROVED"):
        await deployment.deploy(lc, code.code, code.language)
    assert await _executions(lc) == []


async def test_deploy_refuses_approved_code_that_never_passed_validation(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    lc, _code = validated
    sneaky = "CREATE TABLE sneaky AS SELECT 1 AS x"
    digest = artifacts.content_hash(sneaky)
    async with lc.rt.db.transaction() as session:
        session.add(
            models.ApprovalRequest(
                task_id=lc.task_id, operation_class="write", environment="SANDBOX", risk_level="LOW",
                status="APPROVED", code_hash=digest, requested_by="attacker", decided_by="attacker",
            )
        )  # fmt: skip
    with pytest.raises(ValidationFailedError, match="never passed validation"):
        await deployment.deploy(lc, sneaky, Language.SQL)
    assert await _executions(lc) == []


async def test_a_step_never_moves_the_task_from_a_state_it_only_remembers(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    """The run remembers the state between steps instead of reading it each time; a move
    by another writer in between makes the next move fail the compare-and-set, and
    nothing is written from the stale state."""
    lc, code = validated
    assert lc.rt.states[lc.task_id].value == "VALIDATION_PASSED"
    async with lc.rt.db.transaction() as session:  # another process cancels the task
        await ledger.record_transition(
            session, task_id=lc.task_id, to_state=TaskState.CANCELLED, triggered_by="operator"
        )
    before = await _transitions(lc)
    with pytest.raises(StateConflictError, match="CANCELLED"):
        await approval_gate.request_approval(lc, code)
    assert await _transitions(lc) == before
    async with lc.rt.db.sessions() as session:
        assert (await session.execute(select(models.ApprovalRequest))).scalars().all() == []
    lc.rt.states.pop(lc.task_id)  # what a failed step does: the next attempt reads afresh
    assert await lc.state() is TaskState.CANCELLED


async def _transitions(lc: TaskCursor) -> list[str]:
    async with lc.rt.db.sessions() as session:
        rows = await session.execute(
            select(models.StateTransition.to_state)
            .where(models.StateTransition.task_id == lc.task_id)
            .order_by(models.StateTransition.sequence_num)
        )
        return list(rows.scalars())


def _xmin(model: type[models.Base]) -> Any:
    """PostgreSQL's ``xmin``: the id of the transaction that wrote the row version."""
    return literal_column(f"{model.__tablename__}.xmin")


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])  # SQLite has no transaction id to compare
async def test_fixed_successors_and_the_deployment_outcome_commit_with_what_precedes_them(
    validated: tuple[TaskCursor, GeneratedCode],
) -> None:
    """Each step whose successor is fixed enters it in the transaction that finishes it
    (``ENTERS_NEXT``), by the next agent; the execution's outcome, its compute cost, its
    result artifact, DEPLOYED and COMPLETED commit together. Same transaction = same
    ``xmin`` (PostgreSQL's id of the transaction that wrote the row)."""
    lc, code = validated
    assert (await approval_gate.request_approval(lc, code)).approved
    execution = await deployment.deploy(lc, code.code, code.language)
    async with lc.rt.db.sessions() as session:
        moves = (
            await session.execute(
                select(
                    models.StateTransition.to_state,
                    models.StateTransition.triggered_by,
                    _xmin(models.StateTransition),
                ).order_by(models.StateTransition.sequence_num)
            )
        ).all()
        outcome = (
            await session.execute(select(models.Execution.status, _xmin(models.Execution)))
        ).one()
        result = (
            await session.execute(
                select(_xmin(models.Artifact)).where(
                    models.Artifact.artifact_type == ArtifactType.EXECUTION_RESULT.value
                )
            )
        ).scalar_one()
        compute = (
            await session.execute(
                select(_xmin(models.CostRecord)).where(models.CostRecord.kind == "compute")
            )
        ).scalar_one()
    written = {state: (by, txid) for state, by, txid in moves}
    for done, (following, agent) in ENTERS_NEXT.items():
        assert written[following.value][0] == agent
        assert written[following.value][1] == written[done.value][1]
    assert outcome[0] == "SUCCESS" and execution.status == "SUCCESS"
    assert outcome[1] == result == compute == written["DEPLOYED"][1] == written["COMPLETED"][1]
    # and the steps that are not fixed did commit apart
    assert written["VALIDATION_PASSED"][1] != written["APPROVAL_PENDING"][1]


async def test_a_passed_review_enters_the_optimiser_with_its_own_commit(
    db: Database, tmp_path: Path, backend: str
) -> None:
    """``validate(optimise_next=True)``: VALIDATION_PASSED, then OPTIMIZATION_PENDING and
    IN_OPTIMIZATION by the optimiser, in one transaction (same ``xmin`` on PostgreSQL); the
    optimiser then goes straight to its work and enters nothing twice."""
    done = await develop(db, tmp_path / "home", "orders_optimised")
    with context.bind(done.run_context()):
        assert (
            await authoring.validate(done.lc, done.requirement, done.code, optimise_next=True)
        ).passed
        assert await done.lc.state() is TaskState.IN_OPTIMIZATION
        plan = done.plan.model_copy(update={"optimise": True})
        await authoring.optimise(done.lc, plan, done.code)
    pg = backend == "postgres"
    async with db.sessions() as session:
        moves = (
            await session.execute(
                select(
                    models.StateTransition.to_state,
                    models.StateTransition.triggered_by,
                    _xmin(models.StateTransition) if pg else literal_column("0"),
                ).order_by(models.StateTransition.sequence_num)
            )
        ).all()
    tail = [(to, by) for to, by, _ in moves[-4:]]
    assert tail == [
        ("VALIDATION_PASSED", "reviewer"), ("OPTIMIZATION_PENDING", "optimiser"),
        ("IN_OPTIMIZATION", "optimiser"), ("OPTIMIZED", "optimiser"),
    ]  # fmt: skip
    assert len({txid for _, _, txid in moves[-4:-1]}) == 1
    assert [to for to, _, _ in moves].count("OPTIMIZATION_PENDING") == 1


async def test_a_busy_local_database_fails_the_attempt_cleanly_and_the_retry_deploys(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holding the local DuckDB file past the bounded wait: the attempt
    fails with a retryable PLATFORM_BUSY and its execution ends FAILED (nothing ran), so
    the retry the taxonomy asks for deploys instead of refusing an unfinished run."""
    monkeypatch.setenv("AADAP_PLATFORMS_LOCAL_LOCK_TIMEOUT_SECONDS", "0.3")
    done = await develop(db, tmp_path / "home", "orders_busy")
    lc, code = done.lc, done.code
    with context.bind(done.run_context()):
        assert (await authoring.validate(lc, done.requirement, code)).passed
        assert (await approval_gate.request_approval(lc, code)).approved
        with (
            locks.hold(tmp_path / "home" / "local.duckdb", wait=1),
            pytest.raises(PlatformBusyError) as busy,
        ):
            await deployment.deploy(lc, code.code, code.language)
        assert is_retryable(busy.value)
        [failed] = await _executions(lc)
        assert failed.status == "FAILED"
        assert "busy" in (failed.error or "")

        execution = await deployment.deploy(lc, code.code, code.language)  # the retry

    assert execution.status == "SUCCESS"
    assert sorted(e.status for e in await _executions(lc)) == ["FAILED", "SUCCESS"]
    assert (await lc.state()).value == "COMPLETED"
