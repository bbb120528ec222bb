"""Housekeeping the ``reconcile`` flow runs: expired approvals and ``task_logs`` retention.

An approval request still PENDING after its ``expires_at`` becomes EXPIRED, and
its task FAILED with an ``APPROVAL_EXPIRED`` ERROR row, in one transaction
(unless the task already ended: then only the request changes, with an INFO
row). The status change is a compare-and-set on PENDING, so a reviewer who
decides at the same moment either wins or finds the request expired. A run
still paused on that request fails when a decision or its own timeout arrives.

Retention deletes ``task_logs`` rows older than ``retention_days``, in batches,
except budget alerts younger than :data:`budget_watch.KEEP_ALERTS_FOR` (they
keep the monthly alert from being written twice).
"""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel

from aadap.core.enums import ApprovalStatus, LogLevel
from aadap.core.exceptions import ApprovalExpiredError, InvalidRequestError
from aadap.core.states import TERMINAL_STATES, TaskState
from aadap.db.repos import approval_repo, log_repo, task_repo
from aadap.db.session import Database
from aadap.services import budget_watch, ledger, logs
from aadap.services.reports import resolve_now

ACTOR = "system:reconcile"
SOURCE = "reconcile"
EXPIRED_EVENT = "approval.expired"
PURGED_EVENT = "logs.purged"


class ExpiredApproval(BaseModel):
    approval_id: uuid.UUID
    task_id: uuid.UUID
    expires_at: dt.datetime
    task_state: str
    task_failed: bool


async def expire_approvals(
    db: Database, *, now: dt.datetime | None = None
) -> list[ExpiredApproval]:
    """Expire every PENDING request whose ``expires_at`` has passed; fail the live tasks."""
    now = resolve_now(now)
    async with db.sessions() as session:
        due = await approval_repo.ids_due(
            session, status=ApprovalStatus.PENDING.value, expired_by=now
        )
    expired = []
    for approval_id in due:
        item = await _expire_one(db, approval_id, now)
        if item is not None:
            expired.append(item)
    return expired


async def _expire_one(
    db: Database, approval_id: uuid.UUID, now: dt.datetime
) -> ExpiredApproval | None:
    async with db.transaction() as session:
        request = await approval_repo.get(session, approval_id=approval_id)
        if request is None or request.expires_at is None:
            return None  # deleted with its task since it was listed
        expires_at = request.expires_at
        reason = f"nobody approved or rejected it before it expired at {expires_at.isoformat()}"
        moved = await approval_repo.set_status_if(
            session,
            approval_id=approval_id,
            from_status=ApprovalStatus.PENDING.value,
            to_status=ApprovalStatus.EXPIRED.value,
            by=ACTOR,
            at=now,
            reason=reason,
        )
        if not moved:
            return None  # a reviewer decided in the meantime
        task = await task_repo.get_task(session, task_id=request.task_id)
        assert task is not None  # approval_requests.task_id is a NOT NULL foreign key
        state = TaskState(task.current_state)
        error = ApprovalExpiredError(
            f"approval request {approval_id} expired at {expires_at.isoformat()} with no decision; "
            "the code was not deployed",
            task_id=str(task.id),
            correlation_id=task.correlation_id,
            details={"approval_id": str(approval_id), "expires_at": expires_at.isoformat()},
        )
        ended = state in TERMINAL_STATES
        if not ended:
            await ledger.record_transition(
                session,
                task_id=task.id,
                to_state=TaskState.FAILED,
                triggered_by=ACTOR,
                reason=f"[{error.error_code}] {error.message}",
                expected_from=state,
                metadata={"error": error.to_dict()},
            )
        await log_repo.add_log(
            session,
            log=logs.build(
                level=LogLevel.INFO if ended else LogLevel.ERROR,
                event=EXPIRED_EVENT,
                message=f"approval request {approval_id} expired (task had already ended {state})"
                if ended
                else f"{error.message}; task {task.id} marked FAILED (was {state})",
                source=SOURCE,
                task_id=task.id,
                flow_run_id=task.flow_run_id,
                correlation_id=task.correlation_id,
                error=None if ended else error,
                details={"approval_id": str(approval_id), "state": state.value},
                created_at=now,
            ),
        )
    return ExpiredApproval(
        approval_id=approval_id,
        task_id=task.id,
        expires_at=expires_at,
        task_state=state.value,
        task_failed=not ended,
    )


async def purge_logs(
    db: Database, *, retention_days: int, now: dt.datetime | None = None, batch_size: int = 5_000
) -> int:
    """Delete ``task_logs`` rows older than ``retention_days``; returns how many."""
    if retention_days < 1 or batch_size < 1:
        raise InvalidRequestError(
            f"retention_days={retention_days!r} and batch_size={batch_size!r} must both be >= 1",
            details={"field": "retention_days" if retention_days < 1 else "batch_size"},
        )
    now = resolve_now(now)
    cutoff = now - dt.timedelta(days=retention_days)
    alerts_cutoff = now - budget_watch.KEEP_ALERTS_FOR
    deleted = 0
    while True:
        async with db.transaction() as session:
            # budget alerts younger than KEEP_ALERTS_FOR stay, whatever the retention
            count = await log_repo.delete_logs_before(
                session,
                cutoff=cutoff,
                keep_events=budget_watch.ALERT_EVENTS,
                keep_since=alerts_cutoff,
                limit=batch_size,
            )
        deleted += count
        if count < batch_size:
            break
    if deleted:
        await logs.write(
            db,
            [
                logs.entry(
                    level=LogLevel.INFO,
                    event=PURGED_EVENT,
                    message=f"deleted {deleted} task_logs row(s) older than {retention_days} days "
                    f"(before {cutoff.isoformat()})",
                    source=SOURCE,
                    details={"deleted": deleted, "retention_days": retention_days},
                    created_at=now,
                )
            ],
        )
    return deleted


__all__ = ["ExpiredApproval", "expire_approvals", "purge_logs"]
