"""The approval gate: policy decides what it can, a human the rest, on the exact code.

* Code that changed after validation (a new artifact version, e.g. the optimiser's) is
  validated again before it can be approved.
* Deployment (:mod:`aadap.services.deployment`) runs only code whose hash this gate
  approved and that passed validation.

These checks live here, not in the flow's control logic, so no caller can deploy around
them.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.agents import GeneratedCode
from aadap.core.enums import ApprovalStatus, ArtifactType, Environment, LogLevel, PlatformKind
from aadap.core.exceptions import (
    ApprovalRequiredError,
    SafetyViolationError,
)
from aadap.core.ids import new_id
from aadap.core.states import TaskState
from aadap.db.models import ApprovalRequest, Artifact, Task
from aadap.db.types import utcnow
from aadap.services import artifacts, context, ledger, progress, revalidation
from aadap.services.cursor import TaskCursor, reached

if TYPE_CHECKING:
    from aadap.safety import Analysis

S = TaskState
POLICY_ACTOR = "system:policy"
APPROVING = (ApprovalStatus.APPROVED.value, ApprovalStatus.AUTO_APPROVED.value)


@dataclass(frozen=True)
class ApprovalOutcome:
    """What the approval step returns: plain values (no ORM row crosses a step's
    boundary); :func:`request_row` reads the request itself where a caller needs it."""

    approval_id: uuid.UUID
    status: str
    code_hash: str
    code_artifact_id: uuid.UUID | None
    analysis: dict[str, Any]
    decision: str
    reason: str

    @property
    def approved(self) -> bool:
        return self.status in APPROVING

    @classmethod
    def of(cls, row: ApprovalRequest) -> ApprovalOutcome:
        meta = row.metadata_
        return cls(
            approval_id=row.id, status=row.status, code_hash=row.code_hash,
            code_artifact_id=row.code_artifact_id, analysis=meta.get("analysis", {}),
            decision=meta.get("decision", ""), reason=row.reason or "",
        )  # fmt: skip


@dataclass(frozen=True)
class ApprovalFacts:
    """What the gate reads before it asks for approval of one version of the code."""

    earlier: ApprovalRequest | None  # the newest request for this code: a resumed run
    validated: set[str]  # code hashes that passed validation
    optimised: Artifact | None  # the optimiser's newest code
    generated: Artifact | None  # the developer's newest code

    def artifact_holding(self, code: GeneratedCode) -> uuid.UUID | None:
        """The artifact that holds ``code``: the optimiser's newest version if it is this
        code, else the developer's newest."""
        if (
            self.optimised is not None
            and GeneratedCode.model_validate_json(self.optimised.content).code == code.code
        ):
            return self.optimised.id
        return None if self.generated is None else self.generated.id


async def approval_facts(session: AsyncSession, task_id: uuid.UUID, digest: str) -> ApprovalFacts:
    earlier = (
        await session.execute(
            select(ApprovalRequest)
            .where(ApprovalRequest.task_id == task_id, ApprovalRequest.code_hash == digest)
            .order_by(ApprovalRequest.requested_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    code = await artifacts.newest_of(
        session,
        task_id=task_id,
        types=(ArtifactType.OPTIMIZED_CODE.value, ArtifactType.GENERATED_CODE.value),
    )
    return ApprovalFacts(
        earlier=earlier,
        validated=await revalidation.validated_hashes(session, task_id),
        optimised=code.get((ArtifactType.OPTIMIZED_CODE.value, "code")),
        generated=code.get((ArtifactType.GENERATED_CODE.value, "code")),
    )


async def request_row(cur: TaskCursor, approval_id: uuid.UUID) -> ApprovalRequest:
    """The approval request ``approval_id`` of the cursor's task."""
    async with cur.rt.db.sessions() as session:
        row = await session.get(ApprovalRequest, approval_id)
    if row is None or row.task_id != cur.task_id:
        raise ApprovalRequiredError(
            f"approval request {approval_id} does not belong to task {cur.task_id}"
        )
    return row


async def _existing_tables(cur: TaskCursor, task: Task) -> list[str]:
    platform = await cur.rt.platform_for(task)
    try:
        return await platform.list_tables()
    finally:
        await platform.aclose()


async def analyse(cur: TaskCursor, code: GeneratedCode, task: Task) -> Analysis:
    # the analysers load sqlglot: on first use, not with every lifecycle process
    from aadap.safety import analyze

    return analyze(
        code.code,
        language=code.language,
        platform=PlatformKind(task.platform),
        existing_tables=await _existing_tables(cur, task),
        production_host_patterns=cur.rt.settings.safety.production_host_patterns,
        egress_allowed_hosts=cur.rt.settings.safety.egress_allowed_hosts,
    )


async def request_approval(cur: TaskCursor, code: GeneratedCode) -> ApprovalOutcome:
    """Record the approval request for ``code`` and let policy decide what it can.

    ``auto``: the row is AUTO_APPROVED by policy and the task moves to APPROVED.
    ``approval``: the row stays PENDING in state IN_REVIEW (the caller asks a human).
    ``forbidden``: the row is FORBIDDEN and ``SafetyViolationError`` is raised.
    """
    digest = artifacts.content_hash(code.code)
    async with cur.rt.db.sessions() as session:
        facts = await approval_facts(session, cur.task_id, digest)
    existing = facts.earlier  # asked before: a resumed run, or the same code again
    state = await cur.state()
    if existing is not None and (
        reached(state, S.APPROVED) or existing.status == ApprovalStatus.PENDING.value
    ):
        return ApprovalOutcome.of(existing)
    revalidated = await revalidation.revalidate(cur, code, facts.validated)
    task = await cur.facts()
    analysis = await analyse(cur, code, task)
    from aadap.safety import decide

    decision = decide(analysis, Environment(task.environment), cur.rt.settings.safety)
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
        "cost_usd_so_far": str(await _cost_so_far(cur)),
    }
    row = ApprovalRequest(
        id=new_id(),
        task_id=cur.task_id,
        operation_class=analysis.operation_class.value,
        environment=task.environment,
        risk_level=analysis.risk.value,
        status=status.value,
        code_hash=digest,
        code_artifact_id=facts.artifact_holding(code),
        requested_by=POLICY_ACTOR,
        requested_at=now,
        decided_by=None if status is ApprovalStatus.PENDING else POLICY_ACTOR,
        decided_at=None if status is ApprovalStatus.PENDING else now,
        reason=decision.reason,
        expires_at=now + dt.timedelta(seconds=cur.rt.settings.safety.approval_timeout_seconds),
        metadata_=meta,
    )
    explanation = artifacts.new_row(
        task_id=cur.task_id,
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
    also = (
        [explanation]
        if revalidated is None
        else [revalidation.report_row(cur, revalidated), explanation]
    )
    await cur.commit(hops, also=also, rows=[row])
    progress.tell(
        LogLevel.WARNING if status is ApprovalStatus.FORBIDDEN else LogLevel.INFO,
        f"approval request {row.id}: {status.value} by policy ({decision.reason})"
        + (
            f"; waiting for a reviewer until {row.expires_at:%Y-%m-%d %H:%M} UTC"
            if status is ApprovalStatus.PENDING and row.expires_at is not None
            else ""
        ),
    )
    outcome = ApprovalOutcome.of(row)
    if status is ApprovalStatus.FORBIDDEN:
        raise SafetyViolationError(
            f"policy forbids this code in {task.environment}: {decision.reason}",
            task_id=str(cur.task_id),
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


async def _cost_so_far(cur: TaskCursor) -> Decimal:
    """The task's spend: the run's view (kept current by every cost write), else read."""
    ctx = context.current()
    if ctx is not None and ctx.task_id == cur.task_id and ctx.spend is not None:
        return ctx.spend.cost_usd
    return (await cur.task()).cost_usd


async def record_decision(
    cur: TaskCursor, approval_id: uuid.UUID, *, approve: bool, reviewer: str, comment: str | None
) -> ApprovalRequest:
    """A human's decision on a PENDING request: APPROVED (task → APPROVED) or REJECTED (→ REJECTED)."""
    async with cur.rt.db.transaction() as session:
        row = await session.get(ApprovalRequest, approval_id, with_for_update=True)
        if row is None or row.task_id != cur.task_id:
            raise ApprovalRequiredError(
                f"approval request {approval_id} does not belong to task {cur.task_id}"
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
                task_id=cur.task_id,
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
            session, task_id=cur.task_id, to_state=S.APPROVED if approve else S.REJECTED,
            triggered_by=f"reviewer:{reviewer}", reason=comment, metadata={"approval_id": str(row.id)},
        )  # fmt: skip
    cur.moved_to(S.APPROVED if approve else S.REJECTED)
    progress.tell(
        LogLevel.INFO,
        f"approval request {row.id}: {row.status} by {reviewer}; comment: {comment or 'none'}",
    )
    return row


async def expire(cur: TaskCursor, approval_id: uuid.UUID) -> None:
    async with cur.rt.db.transaction() as session:
        row = await session.get(ApprovalRequest, approval_id)
        if row is not None and row.status == ApprovalStatus.PENDING.value:
            row.status = ApprovalStatus.EXPIRED.value
            row.decided_by = POLICY_ACTOR
            row.decided_at = utcnow()
            row.reason = "nobody decided before the approval timeout"


__all__ = [
    "APPROVING", "POLICY_ACTOR", "ApprovalFacts", "ApprovalOutcome", "analyse", "approval_facts",
    "describe_analysis", "expire", "record_decision", "request_approval", "request_row",
    ]  # fmt: skip
