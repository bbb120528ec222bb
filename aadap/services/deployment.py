"""Deployment: run the approved code on the task's platform, once, and record its outcome.

Deploy runs only if an ``APPROVED`` or ``AUTO_APPROVED`` approval row exists for the
exact content hash being deployed, and that hash passed validation
(:mod:`aadap.services.approval_gate`); a run that succeeded is never repeated, and one
that never finished is refused.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType, ExecutionStatus, Language, LogLevel
from aadap.core.exceptions import (
    ApprovalRequiredError,
    DeploymentFailedError,
    InvalidDataError,
    PlatformBusyError,
    PlatformTimeoutError,
    ValidationFailedError,
)
from aadap.core.states import TaskState
from aadap.db.models import ApprovalRequest, Execution, Task
from aadap.db.repos import approval_repo, execution_repo
from aadap.db.types import utcnow
from aadap.platforms.protocol import Platform, RunResult
from aadap.services import artifacts, context, costs, ledger, progress
from aadap.services.approval_gate import APPROVING
from aadap.services.cursor import TaskCursor
from aadap.services.revalidation import validated_hashes

S = TaskState
COMPLETER = "lifecycle"  # who moves a deployed task to COMPLETED


@dataclass(frozen=True)
class Deployment:
    """What the deploy step returns: the execution's outcome as plain values."""

    id: uuid.UUID
    status: str
    rows_affected: int | None
    duration_ms: int | None
    run_url: str | None
    error: str | None

    @classmethod
    def of(cls, row: Execution) -> Deployment:
        return cls(
            id=row.id, status=row.status, rows_affected=row.rows_affected,
            duration_ms=row.duration_ms, run_url=row.run_url, error=row.error,
        )  # fmt: skip


@dataclass(frozen=True)
class DeploymentFacts:
    """What deployment reads before it runs one version of the code."""

    done: Execution | None  # this code's successful run: never deploy twice
    interrupted: Execution | None  # a run of the task that never finished
    approved: ApprovalRequest | None  # the newest approving request for this code
    validated: set[str]  # code hashes that passed validation


async def deployment_facts(
    session: AsyncSession, task_id: uuid.UUID, digest: str
) -> DeploymentFacts:
    return DeploymentFacts(
        done=await execution_repo.one_of_task(
            session, task_id=task_id, code_hash=digest, status=ExecutionStatus.SUCCESS.value
        ),
        interrupted=await execution_repo.one_of_task(
            session, task_id=task_id, status=ExecutionStatus.RUNNING.value
        ),
        approved=await approval_repo.latest_for_code(
            session, task_id=task_id, code_hash=digest, statuses=APPROVING
        ),
        validated=await validated_hashes(session, task_id),
    )


async def deploy(cur: TaskCursor, code: str, language: Language) -> Deployment:
    """Run ``code`` on the task's platform, if and only if that exact code was validated and approved."""
    digest = artifacts.content_hash(code)
    async with cur.rt.db.sessions() as session:
        facts = await deployment_facts(session, cur.task_id, digest)
    if facts.done is not None:  # resumed after the deployment already happened
        await _record_recovered(cur, facts.done)
        return Deployment.of(facts.done)
    approved = _ensure_deployable(cur, facts, digest)
    task = await cur.facts()
    # opened first: a bad connection leaves no RUNNING row behind
    platform = await cur.rt.platform_for(task)
    execution = await _start_execution(cur, task, platform, digest, approved)
    result = await _run(cur, task, platform, execution, code, language)
    await _record_success(cur, task, execution, result)
    return Deployment.of(execution)


def _ensure_deployable(cur: TaskCursor, facts: DeploymentFacts, digest: str) -> ApprovalRequest:
    """The request that approved the code ``digest``; refuses code that was not approved,
    never passed validation, or whose task has a run that never finished."""
    approved = facts.approved
    if approved is None:
        raise ApprovalRequiredError(
            f"refusing to deploy: no APPROVED or policy-auto-approved request for code sha256 {digest[:12]}…",
            task_id=str(cur.task_id),
            details={"code_sha256": digest},
        )
    if digest not in facts.validated:
        raise ValidationFailedError(
            f"refusing to deploy: code sha256 {digest[:12]}… never passed validation",
            task_id=str(cur.task_id),
        )
    if facts.interrupted is not None:
        interrupted_id = facts.interrupted.id
        raise DeploymentFailedError(
            f"a previous deployment of this task (execution {interrupted_id}) never finished; check the "
            "target before submitting the request again",
            task_id=str(cur.task_id),
            details={"execution_id": str(interrupted_id)},
        )
    return approved


async def _start_execution(
    cur: TaskCursor, task: Task, platform: Platform, digest: str, approved: ApprovalRequest
) -> Execution:
    """The RUNNING execution of the code ``digest``, committed with the move to DEPLOYING
    before the run; ``platform`` is closed if that commit fails."""
    execution = Execution(
        task_id=cur.task_id,
        connection_id=task.connection_id,
        platform=task.platform,
        status=ExecutionStatus.RUNNING.value,
        code_hash=digest,
        code_artifact_id=approved.code_artifact_id,
        started_at=utcnow(),
    )
    try:
        # the move to DEPLOYING and the RUNNING execution commit together, before the run
        await cur.commit([ledger.Hop(S.DEPLOYING, "deployer")], rows=[execution])
    except BaseException:
        await platform.aclose()
        raise
    return execution


async def _run(
    cur: TaskCursor,
    task: Task,
    platform: Platform,
    execution: Execution,
    code: str,
    language: Language,
) -> RunResult:
    """Run ``code`` on ``platform`` (closed afterwards) and wait for its result; a run that
    failed ends ``execution`` FAILED and raises ``DeploymentFailedError``."""
    started = time.monotonic()
    try:
        handle = await platform.submit(
            code, language=language, name=f"aadap-{str(cur.task_id)[:8]}"
        )
        result = await platform.wait(handle)
        if (
            result.duration_ms is None
        ):  # e.g. Databricks SQL statements report no duration: use the wall time
            result = dataclasses.replace(
                result, duration_ms=int((time.monotonic() - started) * 1000)
            )
    except (DeploymentFailedError, InvalidDataError, PlatformBusyError) as exc:
        # the run failed, or the platform refused before running anything (bad input data,
        # a target held by another writer): the execution ends FAILED, so a retry may deploy
        await _finish_execution(cur, execution, None, error=exc.message)
        raise
    except PlatformTimeoutError as exc:
        if exc.details.get("cancelled") is False:
            raise  # the remote run may still be going: RUNNING, never deployed blindly again
        # stopped at the limit (killed, interrupted or cancelled): its end is known. It
        # ends FAILED and is not retried: statements before the stop stay applied.
        await _finish_execution(cur, execution, None, error=exc.message)
        raise DeploymentFailedError(
            f"the {task.platform} run was stopped: {exc.message}",
            task_id=str(cur.task_id),
            details=exc.details,
        ) from exc
    finally:
        cur.rt.agent_facts.pop(cur.task_id, None)  # the run may have changed the schema
        await platform.aclose()
    if not result.succeeded:
        await _finish_execution(cur, execution, result)
        raise DeploymentFailedError(
            f"the {task.platform} run failed: {result.error or result.status.value}",
            task_id=str(cur.task_id),
            details={"run_id": handle.run_id, "run_url": result.run_url, "error": result.error},
        )
    return result


async def _record_success(
    cur: TaskCursor, task: Task, execution: Execution, result: RunResult
) -> None:
    """Record the run that succeeded: ``execution``'s outcome, and the task DEPLOYED and
    COMPLETED."""
    # the execution's outcome, its compute cost, the result artifact, DEPLOYED and COMPLETED
    # commit together (``TaskCursor.commit``). A run that dies
    # before the commit leaves the execution RUNNING, which a resumed run refuses to deploy
    # over. The compute row's call_id is new (this execution's id).
    values = _execution_values(result)
    rate = cur.rt.settings.platforms.compute_usd_per_hour.get(task.platform)
    ctx = context.current()
    output = artifacts.new_row(
        task_id=cur.task_id, artifact_type=ArtifactType.EXECUTION_RESULT, name="result",
        content=json.dumps(_result_json(result), indent=2, default=str),
        metadata={"execution_id": str(execution.id)},
    )  # fmt: skip
    reason = result.output[:500] or f"{result.rows_affected} rows affected"
    compute = None
    if rate is not None:
        compute = costs.compute_row(
            ctx=ctx, task_id=cur.task_id, platform=task.platform,
            duration_ms=result.duration_ms or 0, usd_per_hour=rate,
            call_id=f"compute-{execution.id}",
        )  # fmt: skip
    committed = await cur.commit(
        [
            ledger.Hop(S.DEPLOYED, "deployer", reason),
            ledger.Hop(S.COMPLETED, COMPLETER, "deployed"),
        ],
        output=output,
        updates=[(execution_repo.EXECUTIONS, execution.id, values)],
        cost_row=compute,
    )
    costs.note_compute(ctx, cur.task_id, committed.totals)
    _apply(execution, values)
    progress.tell(
        LogLevel.INFO,
        f"deployed on {task.platform}: {result.rows_affected if result.rows_affected is not None else 'unknown'}"
        f" rows affected in {result.duration_ms} ms"
        + (f" ({result.run_url})" if result.run_url else ""),
    )


async def _record_recovered(cur: TaskCursor, done: Execution) -> None:
    """The run succeeded but the process died before DEPLOYED was recorded: record it now."""
    state = await cur.state()
    if state not in (S.APPROVED, S.DEPLOYING):
        return
    if state is S.APPROVED:
        await cur.enter(S.DEPLOYING, by="deployer")
    await cur.finish_step(
        S.DEPLOYED, by="deployer", output=done.output or "{}", kind=ArtifactType.EXECUTION_RESULT,
        name="result", reason="recorded after an interruption: the execution had already succeeded",
        metadata={"execution_id": str(done.id)},
    )  # fmt: skip


def _result_json(result: RunResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "output": result.output,
        "columns": result.columns,
        "rows": result.rows,
        "row_count": result.row_count,
        "rows_affected": result.rows_affected,
        "run_url": result.run_url,
        "duration_ms": result.duration_ms,
    }


def _execution_values(result: RunResult | None, *, error: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"completed_at": utcnow()}
    if result is None:
        values.update(status=ExecutionStatus.FAILED.value, error=error)
    else:
        values.update(
            status=result.status.value,
            output=json.dumps(_result_json(result), default=str)[:200_000],
            error=result.error,
            rows_affected=result.rows_affected,
            duration_ms=result.duration_ms,
            run_url=result.run_url,
        )
    return values


def _apply(execution: Execution, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(execution, name, value)


async def _finish_execution(
    cur: TaskCursor, execution: Execution, result: RunResult | None, *, error: str | None = None
) -> None:
    values = _execution_values(result, error=error)
    async with cur.rt.db.transaction() as session:
        await execution_repo.set_values(session, execution_id=execution.id, values=values)
    _apply(execution, values)


async def complete(cur: TaskCursor) -> None:
    """COMPLETED for a task left in DEPLOYED (a deployment recorded after an interruption,
    or by an earlier version); :func:`deploy` completes the task it deploys itself."""
    state = await cur.state()
    if state is S.DEPLOYED:
        await cur.enter(S.COMPLETED, by=COMPLETER, reason="deployed")


__all__ = ["COMPLETER", "Deployment", "DeploymentFacts", "complete", "deploy", "deployment_facts"]
