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

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.agents import GeneratedCode
from aadap.core.enums import ApprovalStatus, ArtifactType, Environment, LogLevel, PlatformKind
from aadap.core.exceptions import ApprovalRequiredError, SafetyViolationError
from aadap.core.ids import new_id
from aadap.core.states import TaskState
from aadap.db.models import ApprovalRequest, Artifact, Task
from aadap.db.repos import approval_repo
from aadap.db.types import utcnow
from aadap.services import artifacts, context, ledger, progress, revalidation
from aadap.services.cursor import TaskCursor, reached

if TYPE_CHECKING:
    from aadap.safety import Analysis, PolicyDecision

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
    earlier = await approval_repo.latest_for_code(session, task_id=task_id, code_hash=digest)
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
        row = await approval_repo.get(session, approval_id=approval_id)
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


@dataclass(frozen=True)
class _Verdict:
    """What policy made of one version of the code."""

    analysis: Analysis
    policy: PolicyDecision
    status: ApprovalStatus


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
    verdict = await _policy_verdict(cur, code, task)
    row = await _new_request(cur, task, verdict, digest, facts.artifact_holding(code))
    explanation = _explanation(cur, row, code, verdict)
    # the request, its explanation, a passed re-validation and the moves through
    # APPROVAL_PENDING commit together: a run that dies before this commit asks again
    # from the top
    also = (
        [explanation]
        if revalidated is None
        else [revalidation.report_row(cur, revalidated), explanation]
    )
    await cur.commit(_policy_hops(row, verdict), also=also, rows=[row])
    _tell_requested(row, verdict)
    if verdict.status is ApprovalStatus.FORBIDDEN:
        raise SafetyViolationError(
            f"policy forbids this code in {task.environment}: {verdict.policy.reason}",
            task_id=str(cur.task_id),
            details={
                "approval_id": str(row.id),
                "operation_class": verdict.analysis.operation_class.value,
                "risk": verdict.analysis.risk.value,
            },
        )
    return ApprovalOutcome.of(row)


async def _policy_verdict(cur: TaskCursor, code: GeneratedCode, task: Task) -> _Verdict:
    """The safety analysis of ``code`` and what policy decides on it in the task's
    environment."""
    analysis = await analyse(cur, code, task)
    from aadap.safety import decide

    decision = decide(analysis, Environment(task.environment), cur.rt.settings.safety)
    progress.tell(LogLevel.INFO, describe_analysis(analysis.to_dict()))
    status = {
        "auto": ApprovalStatus.AUTO_APPROVED,
        "approval": ApprovalStatus.PENDING,
        "forbidden": ApprovalStatus.FORBIDDEN,
    }[decision.decision]
    return _Verdict(analysis, decision, status)


async def _new_request(
    cur: TaskCursor,
    task: Task,
    verdict: _Verdict,
    digest: str,
    code_artifact_id: uuid.UUID | None,
) -> ApprovalRequest:
    """The approval request row for the code ``digest``, decided by policy unless it waits
    for a reviewer."""
    now = utcnow()
    decided = verdict.status is not ApprovalStatus.PENDING
    meta = {
        "analysis": verdict.analysis.to_dict(),
        "decision": verdict.policy.decision,
        "cost_usd_so_far": str(await _cost_so_far(cur)),
    }
    return ApprovalRequest(
        id=new_id(),
        task_id=cur.task_id,
        operation_class=verdict.analysis.operation_class.value,
        environment=task.environment,
        risk_level=verdict.analysis.risk.value,
        status=verdict.status.value,
        code_hash=digest,
        code_artifact_id=code_artifact_id,
        requested_by=POLICY_ACTOR,
        requested_at=now,
        decided_by=POLICY_ACTOR if decided else None,
        decided_at=now if decided else None,
        reason=verdict.policy.reason,
        expires_at=now + dt.timedelta(seconds=cur.rt.settings.safety.approval_timeout_seconds),
        metadata_=meta,
    )


def _explanation(
    cur: TaskCursor, row: ApprovalRequest, code: GeneratedCode, verdict: _Verdict
) -> Artifact:
    """The decision explanation artifact of the request ``row``: why policy decided so."""
    analysis = verdict.analysis
    return _decision_row(
        cur,
        row,
        chosen_approach=code.explanation,
        operation_class=analysis.operation_class.value,
        risk=analysis.risk.value,
        decision=verdict.policy.decision,
        why=verdict.policy.reason,
        findings=[f.to_dict() for f in analysis.findings],
    )


def _decision_row(cur: TaskCursor, row: ApprovalRequest, **facts: Any) -> Artifact:
    """A version of the request's ``decision_explanation`` artifact: its id, the code's
    hash, and what decided it (policy or a reviewer)."""
    content = {"approval_id": str(row.id), "code_sha256": row.code_hash, **facts}
    return artifacts.new_row(
        task_id=cur.task_id,
        artifact_type=ArtifactType.DECISION_EXPLANATION,
        name="approval",
        content=json.dumps(content, indent=2),
    )


def _policy_hops(row: ApprovalRequest, verdict: _Verdict) -> list[ledger.Hop]:
    """The task's moves as policy decided: into review, and on to APPROVED if it could."""
    reason = verdict.policy.reason
    hops = [
        ledger.Hop(S.APPROVAL_PENDING, POLICY_ACTOR),
        ledger.Hop(S.IN_REVIEW, POLICY_ACTOR, reason),
    ]
    if verdict.status is ApprovalStatus.AUTO_APPROVED:
        approved = f"auto-approved by policy: {reason}"
        hops.append(ledger.Hop(S.APPROVED, POLICY_ACTOR, approved, {"approval_id": str(row.id)}))
    return hops


def _tell_requested(row: ApprovalRequest, verdict: _Verdict) -> None:
    status = verdict.status
    progress.tell(
        LogLevel.WARNING if status is ApprovalStatus.FORBIDDEN else LogLevel.INFO,
        f"approval request {row.id}: {status.value} by policy ({verdict.policy.reason})"
        + (
            f"; waiting for a reviewer until {row.expires_at:%Y-%m-%d %H:%M} UTC"
            if status is ApprovalStatus.PENDING and row.expires_at is not None
            else ""
        ),
    )


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
        row = await approval_repo.get(session, approval_id=approval_id, for_update=True)
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
            _decision_row(cur, row, decision=row.status, reviewer=reviewer, comment=comment),
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
        row = await approval_repo.get(session, approval_id=approval_id)
        if row is not None and row.status == ApprovalStatus.PENDING.value:
            row.status = ApprovalStatus.EXPIRED.value
            row.decided_by = POLICY_ACTOR
            row.decided_at = utcnow()
            row.reason = "nobody decided before the approval timeout"


__all__ = [
    "APPROVING", "POLICY_ACTOR", "ApprovalFacts", "ApprovalOutcome", "analyse", "approval_facts",
    "describe_analysis", "expire", "record_decision", "request_approval", "request_row",
    ]  # fmt: skip
