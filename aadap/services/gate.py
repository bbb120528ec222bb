"""Approval and deployment, with the safety invariants enforced in the services themselves.

* Deploy runs only if an ``APPROVED`` or ``AUTO_APPROVED`` approval row exists for
  the exact content hash being deployed, and that hash passed validation.
* Code that changed after validation (a new artifact version, e.g. the optimiser's)
  is validated again before it can be approved.

These checks live here, not in the flow's control logic, so no caller can deploy
around them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aadap import agents
from aadap.agents import GeneratedCode
from aadap.core.enums import (
    ApprovalStatus,
    ArtifactType,
    Environment,
    ExecutionStatus,
    Language,
    LogLevel,
    PlatformKind,
)
from aadap.core.exceptions import (
    ApprovalRequiredError,
    DeploymentFailedError,
    InvalidDataError,
    PlatformBusyError,
    SafetyViolationError,
    ValidationFailedError,
)
from aadap.core.ids import new_id
from aadap.core.states import TaskState
from aadap.db import json_sql
from aadap.db.models import ApprovalRequest, Artifact, Execution, Task
from aadap.db.types import utcnow
from aadap.platforms.base import RunResult
from aadap.services import artifacts, context, costs, ledger, progress
from aadap.services.lifecycle import Lifecycle, reached

if TYPE_CHECKING:
    from aadap.safety import Analysis

S = TaskState
POLICY_ACTOR = "system:policy"
COMPLETER = "lifecycle"  # who moves a deployed task to COMPLETED
APPROVING = (ApprovalStatus.APPROVED.value, ApprovalStatus.AUTO_APPROVED.value)
_EXECUTIONS: Table = Execution.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class ApprovalOutcome:
    request: ApprovalRequest
    analysis: dict[str, Any]
    decision: str
    reason: str

    @property
    def approved(self) -> bool:
        return self.request.status in APPROVING


async def validated_hashes(lc: Lifecycle) -> set[str]:
    """Content hashes that passed validation (reviewer, or deterministic re-validation)."""
    async with lc.rt.db.sessions() as session:
        return await _validated_hashes(session, lc.task_id)


async def _validated_hashes(session: AsyncSession, task_id: uuid.UUID) -> set[str]:
    rows = await session.execute(
        select(Artifact.content).where(
            Artifact.task_id == task_id,
            Artifact.artifact_type == ArtifactType.REVIEW_REPORT.value,
        )
    )
    return _passed(rows.scalars())


def _passed(reports: Iterable[str]) -> set[str]:
    """The code hashes that the review reports (artifact contents) say passed."""
    hashes = set()
    for content in reports:
        report = json.loads(content)
        if report.get("review", {}).get("passed"):
            hashes.add(report["code_sha256"])
    return hashes


# What the gate reads before it decides, in one round trip each: scalar subqueries on the
# task's row (its review reports as one JSON array). A row found by id is loaded only on
# the paths that use it (a resumed run).


def _reports(dialect: str) -> Any:
    return (
        select(json_sql.array_agg(dialect, Artifact.content))
        .where(
            Artifact.task_id == Task.id,
            Artifact.artifact_type == ArtifactType.REVIEW_REPORT.value,
        )
        .scalar_subquery()
    )


def _first(model: Any, *conditions: Any, newest: Any = None, column: Any = None) -> Any:
    """``column`` (the id unless given) of ``model``'s first row of the task that meets
    ``conditions``, the newest by ``newest`` if given."""
    query = select(model.id if column is None else column).where(
        model.task_id == Task.id, *conditions
    )
    if newest is not None:
        query = query.order_by(newest.desc())
    return query.limit(1).scalar_subquery()


_DIGEST: Any = bindparam("digest_")
_OPTIMISED, _GENERATED = ArtifactType.OPTIMIZED_CODE.value, ArtifactType.GENERATED_CODE.value
#: (purpose, dialect) -> the one read, built on first use
_FACTS: dict[tuple[str, str], Any] = {}


def _facts_query(purpose: str, dialect: str) -> Any:
    query = _FACTS.get((purpose, dialect))
    if query is None:
        if purpose == "approval":
            columns = [
                _first(
                    ApprovalRequest, ApprovalRequest.code_hash == _DIGEST,
                    newest=ApprovalRequest.requested_at,
                ),  # the newest request for this code
                _reports(dialect),
                artifacts.newest_of_key(Artifact.id, Task.id, _OPTIMISED, "code"),
                artifacts.newest_of_key(Artifact.content, Task.id, _OPTIMISED, "code"),
                artifacts.newest_of_key(Artifact.id, Task.id, _GENERATED, "code"),
            ]  # fmt: skip
        else:
            approving = and_(
                ApprovalRequest.code_hash == _DIGEST, ApprovalRequest.status.in_(APPROVING)
            )
            columns = [
                _first(
                    Execution, Execution.code_hash == _DIGEST,
                    Execution.status == ExecutionStatus.SUCCESS.value,
                ),  # this code's successful run
                _first(Execution, Execution.status == ExecutionStatus.RUNNING.value),
                _first(ApprovalRequest, approving, newest=ApprovalRequest.requested_at),
                _first(
                    ApprovalRequest, approving, newest=ApprovalRequest.requested_at,
                    column=ApprovalRequest.code_artifact_id,
                ),
                _reports(dialect),
            ]  # fmt: skip
        query = _FACTS[(purpose, dialect)] = select(*columns).where(
            Task.id == bindparam("task_id_")
        )
    return query


async def _facts(
    session: AsyncSession, purpose: str, task_id: uuid.UUID, digest: str
) -> tuple[Any, ...]:
    """The scalars of :func:`_facts_query`; all None if the task does not exist."""
    query = _facts_query(purpose, session.get_bind().dialect.name)
    found = (await session.execute(query, {"task_id_": task_id, "digest_": digest})).one_or_none()
    return tuple(found) if found is not None else (None,) * len(query.selected_columns)


async def revalidate(
    lc: Lifecycle, code: GeneratedCode, validated: set[str] | None = None
) -> str | None:
    """Validate changed code again (syntax, deterministically) or raise ``ValidationFailedError``.

    ``validated``: the hashes that passed validation, if the caller has just read them.
    Returns the report of a re-validation that passed, for the caller to store in the
    transaction that records the approval request (one commit where there were two; the
    deploy gate finds the report with the request it approves), or ``None`` if the code
    had passed validation already. A failed report is committed here, before the error."""
    digest = artifacts.content_hash(code.code)
    if digest in (validated if validated is not None else await validated_hashes(lc)):
        return None
    task = await lc.facts()
    report = agents.check_syntax(code.code, code.language, PlatformKind(task.platform))
    passed = report.ok
    review = {
        "passed": passed,
        "findings": [
            {"severity": "error", "message": i.message, "line": i.line, "source": "syntax"}
            for i in report.issues
        ],
        "summary": "re-validated after the code changed"
        if passed
        else "the changed code does not parse",
    }
    content = json.dumps({"review": review, "code_sha256": digest, "feedback": []}, indent=2)
    if passed:
        return content
    async with lc.rt.db.transaction() as session:
        await artifacts.store(session, _revalidation(lc, content))
    raise ValidationFailedError(
        "the code changed after validation and the new version fails its syntax check: "
        + "; ".join(i.message for i in report.issues)[:1500],
        task_id=str(lc.task_id),
    )


def _revalidation(lc: Lifecycle, content: str) -> Artifact:
    """The re-validation report's artifact row (:func:`revalidate`)."""
    return artifacts.new_row(
        task_id=lc.task_id,
        artifact_type=ArtifactType.REVIEW_REPORT,
        name="revalidation",
        content=content,
    )


async def _existing_tables(lc: Lifecycle, task: Task) -> list[str]:
    platform = await lc.rt.platform_for(task)
    try:
        return await platform.list_tables()
    finally:
        await platform.aclose()


async def analyse(lc: Lifecycle, code: GeneratedCode, task: Task) -> Analysis:
    # the analysers load sqlglot: on first use, not with every lifecycle process
    from aadap.safety import analyze

    return analyze(
        code.code,
        language=code.language,
        platform=PlatformKind(task.platform),
        existing_tables=await _existing_tables(lc, task),
        production_host_patterns=lc.rt.settings.safety.production_host_patterns,
        egress_allowed_hosts=lc.rt.settings.safety.egress_allowed_hosts,
    )


async def request_approval(lc: Lifecycle, code: GeneratedCode) -> ApprovalOutcome:
    """Record the approval request for ``code`` and let policy decide what it can.

    ``auto``: the row is AUTO_APPROVED by policy and the task moves to APPROVED.
    ``approval``: the row stays PENDING in state IN_REVIEW (the caller asks a human).
    ``forbidden``: the row is FORBIDDEN and ``SafetyViolationError`` is raised.
    """
    digest = artifacts.content_hash(code.code)
    async with lc.rt.db.sessions() as session:
        request_id, reports, optimised_id, optimised, generated_id = await _facts(
            session, "approval", lc.task_id, digest
        )
        existing = None
        if request_id is not None:  # asked before: a resumed run, or the same code again
            existing = await session.get(ApprovalRequest, request_id)
    validated = _passed(reports or [])
    # the artifact that holds the code: the optimiser's newest version if it is this code,
    # else the developer's newest
    holds_code = (
        optimised is not None and GeneratedCode.model_validate_json(optimised).code == code.code
    )
    code_artifact_id = optimised_id if holds_code else generated_id
    state = await lc.state()
    if existing is not None and (
        reached(state, S.APPROVED) or existing.status == ApprovalStatus.PENDING.value
    ):
        meta = existing.metadata_
        return ApprovalOutcome(
            existing, meta.get("analysis", {}), meta.get("decision", ""), existing.reason or ""
        )
    revalidation = await revalidate(lc, code, validated)
    task = await lc.facts()
    analysis = await analyse(lc, code, task)
    from aadap.safety import decide

    decision = decide(analysis, Environment(task.environment), lc.rt.settings.safety)
    progress.tell(LogLevel.INFO, describe_analysis(analysis.to_dict()))
    status = {
        "auto": ApprovalStatus.AUTO_APPROVED,
        "approval": ApprovalStatus.PENDING,
        "forbidden": ApprovalStatus.FORBIDDEN,
    }[decision.decision]
    now = utcnow()
    meta = {
        "analysis": analysis.to_dict(),
        "decision": decision.decision,
        "cost_usd_so_far": str(await _cost_so_far(lc)),
    }
    row = ApprovalRequest(
        id=new_id(),
        task_id=lc.task_id,
        operation_class=analysis.operation_class.value,
        environment=task.environment,
        risk_level=analysis.risk.value,
        status=status.value,
        code_hash=digest,
        code_artifact_id=code_artifact_id,
        requested_by=POLICY_ACTOR,
        requested_at=now,
        decided_by=None if status is ApprovalStatus.PENDING else POLICY_ACTOR,
        decided_at=None if status is ApprovalStatus.PENDING else now,
        reason=decision.reason,
        expires_at=now + dt.timedelta(seconds=lc.rt.settings.safety.approval_timeout_seconds),
        metadata_=meta,
    )
    explanation = artifacts.new_row(
        task_id=lc.task_id,
        artifact_type=ArtifactType.DECISION_EXPLANATION,
        name="approval",
        content=json.dumps(
            {
                "approval_id": str(row.id),
                "code_sha256": digest,
                "chosen_approach": code.explanation,
                "operation_class": analysis.operation_class.value,
                "risk": analysis.risk.value,
                "decision": decision.decision,
                "why": decision.reason,
                "findings": [f.to_dict() for f in analysis.findings],
            },
            indent=2,
        ),
    )
    hops = [
        ledger.Hop(S.APPROVAL_PENDING, POLICY_ACTOR),
        ledger.Hop(S.IN_REVIEW, POLICY_ACTOR, decision.reason),
    ]
    if status is ApprovalStatus.AUTO_APPROVED:
        approved = f"auto-approved by policy: {decision.reason}"
        hops.append(ledger.Hop(S.APPROVED, POLICY_ACTOR, approved, {"approval_id": str(row.id)}))
    # the request, its explanation, a passed re-validation and the moves through
    # APPROVAL_PENDING commit together: a run that dies before this commit asks again
    # from the top
    also = [explanation] if revalidation is None else [_revalidation(lc, revalidation), explanation]
    await lc.commit(hops, also=also, rows=[row])
    progress.tell(
        LogLevel.WARNING if status is ApprovalStatus.FORBIDDEN else LogLevel.INFO,
        f"approval request {row.id}: {status.value} by policy ({decision.reason})"
        + (
            f"; waiting for a reviewer until {row.expires_at:%Y-%m-%d %H:%M} UTC"
            if status is ApprovalStatus.PENDING and row.expires_at is not None
            else ""
        ),
    )
    outcome = ApprovalOutcome(row, meta["analysis"], decision.decision, decision.reason)
    if status is ApprovalStatus.FORBIDDEN:
        raise SafetyViolationError(
            f"policy forbids this code in {task.environment}: {decision.reason}",
            task_id=str(lc.task_id),
            details={
                "approval_id": str(row.id),
                "operation_class": analysis.operation_class.value,
                "risk": analysis.risk.value,
            },
        )
    return outcome


def describe_analysis(analysis: dict[str, Any]) -> str:
    """The safety analysis in one line: class, risk, findings counted by severity."""
    findings = analysis.get("findings", [])
    counts = Counter(str(f.get("severity", "?")) for f in findings)
    by_severity = ", ".join(f"{n} {sev}" for sev, n in sorted(counts.items())) or "none"
    rules = sorted({str(f.get("rule")) for f in findings})
    return (
        f"safety analysis: operation class {analysis.get('operation_class', '?')}, "
        f"risk {analysis.get('risk', '?')}; findings: {by_severity}"
        + (f" ({', '.join(rules[:8])})" if rules else "")
    )


async def _cost_so_far(lc: Lifecycle) -> Decimal:
    """The task's spend: the run's view (kept current by every cost write), else read."""
    ctx = context.current()
    if ctx is not None and ctx.task_id == lc.task_id and ctx.spend is not None:
        return ctx.spend.cost_usd
    return (await lc.task()).cost_usd


async def record_decision(
    lc: Lifecycle, approval_id: uuid.UUID, *, approve: bool, reviewer: str, comment: str | None
) -> ApprovalRequest:
    """A human's decision on a PENDING request: APPROVED (task → APPROVED) or REJECTED (→ REJECTED)."""
    async with lc.rt.db.transaction() as session:
        row = await session.get(ApprovalRequest, approval_id, with_for_update=True)
        if row is None or row.task_id != lc.task_id:
            raise ApprovalRequiredError(
                f"approval request {approval_id} does not belong to task {lc.task_id}"
            )
        if row.status != ApprovalStatus.PENDING.value:
            raise ApprovalRequiredError(
                f"approval request {approval_id} is {row.status}, not PENDING"
            )
        row.status = (ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED).value
        row.decided_by = reviewer
        row.decided_at = utcnow()
        row.reason = comment
        await artifacts.store(
            session,
            artifacts.new_row(
                task_id=lc.task_id,
                artifact_type=ArtifactType.DECISION_EXPLANATION,
                name="approval",
                content=json.dumps(
                    {
                        "approval_id": str(row.id),
                        "code_sha256": row.code_hash,
                        "decision": row.status,
                        "reviewer": reviewer,
                        "comment": comment,
                    },
                    indent=2,
                ),
            ),
        )
        await ledger.record_transition(
            session, task_id=lc.task_id, to_state=S.APPROVED if approve else S.REJECTED,
            triggered_by=f"reviewer:{reviewer}", reason=comment, metadata={"approval_id": str(row.id)},
        )  # fmt: skip
    lc.moved_to(S.APPROVED if approve else S.REJECTED)
    progress.tell(
        LogLevel.INFO,
        f"approval request {row.id}: {row.status} by {reviewer}; comment: {comment or 'none'}",
    )
    return row


async def expire(lc: Lifecycle, approval_id: uuid.UUID) -> None:
    async with lc.rt.db.transaction() as session:
        row = await session.get(ApprovalRequest, approval_id)
        if row is not None and row.status == ApprovalStatus.PENDING.value:
            row.status = ApprovalStatus.EXPIRED.value
            row.decided_by = POLICY_ACTOR
            row.decided_at = utcnow()
            row.reason = "nobody decided before the approval timeout"


async def deploy(lc: Lifecycle, code: str, language: Language) -> Execution:
    """Run ``code`` on the task's platform, if and only if that exact code was validated and approved."""
    digest = artifacts.content_hash(code)
    async with lc.rt.db.sessions() as session:
        done_id, interrupted_id, approved, code_artifact_id, reports = await _facts(
            session, "deploy", lc.task_id, digest
        )
        if done_id is not None:  # resumed after the deployment already happened: never deploy twice
            done = await session.get(Execution, done_id)
            assert done is not None  # executions are never deleted while their task exists
            await _record_recovered(lc, done)
            return done
    validated = _passed(reports or [])
    if approved is None:
        raise ApprovalRequiredError(
            f"refusing to deploy: no APPROVED or policy-auto-approved request for code sha256 {digest[:12]}…",
            task_id=str(lc.task_id),
            details={"code_sha256": digest},
        )
    if digest not in validated:
        raise ValidationFailedError(
            f"refusing to deploy: code sha256 {digest[:12]}… never passed validation",
            task_id=str(lc.task_id),
        )
    if interrupted_id is not None:
        raise DeploymentFailedError(
            f"a previous deployment of this task (execution {interrupted_id}) never finished; check the "
            "target before submitting the request again",
            task_id=str(lc.task_id),
            details={"execution_id": str(interrupted_id)},
        )
    task = await lc.facts()
    # opened first: a bad connection leaves no RUNNING row behind
    platform = await lc.rt.platform_for(task)
    execution = Execution(
        task_id=lc.task_id,
        connection_id=task.connection_id,
        platform=task.platform,
        status=ExecutionStatus.RUNNING.value,
        code_hash=digest,
        code_artifact_id=code_artifact_id,
        started_at=utcnow(),
    )
    try:
        # the move to DEPLOYING and the RUNNING execution commit together, before the run
        await lc.commit([ledger.Hop(S.DEPLOYING, "deployer")], rows=[execution])
    except BaseException:
        await platform.aclose()
        raise
    started = time.monotonic()
    try:
        handle = await platform.submit(code, language=language, name=f"aadap-{str(lc.task_id)[:8]}")
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
        await _finish_execution(lc, execution, None, error=exc.message)
        raise
    finally:
        lc.rt.agent_facts.pop(lc.task_id, None)  # the run may have changed the schema
        await platform.aclose()
    if not result.succeeded:
        await _finish_execution(lc, execution, result)
        raise DeploymentFailedError(
            f"the {task.platform} run failed: {result.error or result.status.value}",
            task_id=str(lc.task_id),
            details={"run_id": handle.run_id, "run_url": result.run_url, "error": result.error},
        )
    # the execution's outcome, its compute cost, the result artifact, DEPLOYED and COMPLETED
    # commit together (``Lifecycle.commit``: one statement on PostgreSQL). A run that dies
    # before the commit leaves the execution RUNNING, which a resumed run refuses to deploy
    # over. The compute row's call_id is new (this execution's id).
    values = _execution_values(result)
    rate = lc.rt.settings.platforms.compute_usd_per_hour.get(task.platform)
    ctx = context.current()
    output = artifacts.new_row(
        task_id=lc.task_id, artifact_type=ArtifactType.EXECUTION_RESULT, name="result",
        content=json.dumps(_result_json(result), indent=2, default=str),
        metadata={"execution_id": str(execution.id)},
    )  # fmt: skip
    reason = result.output[:500] or f"{result.rows_affected} rows affected"
    compute = None
    if rate is not None:
        compute = costs.compute_row(
            ctx=ctx, task_id=lc.task_id, platform=task.platform,
            duration_ms=result.duration_ms or 0, usd_per_hour=rate,
            call_id=f"compute-{execution.id}",
        )  # fmt: skip
    committed = await lc.commit(
        [
            ledger.Hop(S.DEPLOYED, "deployer", reason),
            ledger.Hop(S.COMPLETED, COMPLETER, "deployed"),
        ],
        output=output,
        updates=[(_EXECUTIONS, execution.id, values)],
        cost_row=compute,
    )
    costs.note_compute(ctx, lc.task_id, committed.totals)
    _apply(execution, values)
    progress.tell(
        LogLevel.INFO,
        f"deployed on {task.platform}: {result.rows_affected if result.rows_affected is not None else 'unknown'}"
        f" rows affected in {result.duration_ms} ms"
        + (f" ({result.run_url})" if result.run_url else ""),
    )
    return execution


async def _record_recovered(lc: Lifecycle, done: Execution) -> None:
    """The run succeeded but the process died before DEPLOYED was recorded: record it now."""
    state = await lc.state()
    if state not in (S.APPROVED, S.DEPLOYING):
        return
    if state is S.APPROVED:
        await lc.enter(S.DEPLOYING, by="deployer")
    await lc.finish_step(
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


async def _store_execution(
    session: AsyncSession, execution: Execution, values: dict[str, Any]
) -> None:
    await session.execute(
        update(_EXECUTIONS).where(_EXECUTIONS.c.id == execution.id).values(values)
    )


def _apply(execution: Execution, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(execution, name, value)


async def _finish_execution(
    lc: Lifecycle, execution: Execution, result: RunResult | None, *, error: str | None = None
) -> None:
    values = _execution_values(result, error=error)
    async with lc.rt.db.transaction() as session:
        await _store_execution(session, execution, values)
    _apply(execution, values)


async def complete(lc: Lifecycle) -> None:
    """COMPLETED for a task left in DEPLOYED (a deployment recorded after an interruption,
    or by an earlier version); :func:`deploy` completes the task it deploys itself."""
    state = await lc.state()
    if state is S.DEPLOYED:
        await lc.enter(S.COMPLETED, by=COMPLETER, reason="deployed")
