"""Approval requests: what a reviewer needs to decide, whether a decision can still be
taken, and closing the requests of runs that ended.

A request lives exactly as long as its run waits for it: a run that ends without a
decision (cancelled, failed, crashed, reconciled) closes its PENDING request as
CANCELLED, with the reason, in the transaction that ends the task
(:func:`close_pending`); reconcile closes any left behind
(:func:`close_for_finished_tasks`). A decision on a request that is not PENDING is
refused with ``ApprovalNotWaitingError`` and changes nothing.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ApprovalStatus, LogLevel
from aadap.core.exceptions import ApprovalNotWaitingError, InvalidRequestError
from aadap.core.states import TERMINAL_STATES
from aadap.db.models import ApprovalRequest, Task
from aadap.db.repos import approval_repo, log_repo
from aadap.db.session import Database
from aadap.db.types import utcnow
from aadap.services import logs

CLOSED_EVENT = "approval.cancelled"


async def pending(session: AsyncSession) -> list[tuple[ApprovalRequest, Task]]:
    rows = await approval_repo.with_status(session, status=ApprovalStatus.PENDING.value)
    return [(row.request, row.task) for row in rows]


async def latest_decision(db: Database, task_id: uuid.UUID) -> ApprovalRequest | None:
    """:func:`latest_of_task` in a read session of its own."""
    async with db.sessions() as session:
        return await latest_of_task(session, task_id)


async def latest_of_task(session: AsyncSession, task_id: uuid.UUID) -> ApprovalRequest | None:
    """The task's newest approval request (with its decision, once made), if any."""
    return await approval_repo.latest_of_task(session, task_id=task_id)


async def find(session: AsyncSession, ident: str) -> tuple[ApprovalRequest, Task]:
    """An approval request by id or unique prefix (≥ 6 characters)."""
    key = ident.strip().lower()
    if len(key) < 6:
        raise InvalidRequestError(
            f"approval id {ident!r} is too short; give at least 6 characters",
            details={"field": "id"},
        )
    matches = [
        (a, t)
        for a, t in await approval_repo.all_with_tasks(session)
        if str(a.id).startswith(key) or a.id.hex.startswith(key.replace("-", ""))
    ]
    if len(matches) != 1:
        raise InvalidRequestError(
            f"no approval request matches {ident!r}"
            if not matches
            else f"{len(matches)} approval requests match {ident!r}",
            details={"field": "id"},
        )
    return matches[0]


def ensure_pending(request: ApprovalRequest) -> None:
    """Refuse a decision on a request that is no longer waiting for one."""
    if request.status != ApprovalStatus.PENDING.value:
        closed = f" by {request.decided_by}" if request.decided_by else ""
        why = f": {request.reason}" if request.reason else ""
        raise ApprovalNotWaitingError(
            f"approval request {request.id} is {request.status}{closed}{why}; only a PENDING "
            "request whose run is waiting can be approved or rejected; nothing was changed",
            task_id=str(request.task_id),
            details={"field": "id", "approval_id": str(request.id), "status": request.status},
        )


async def close_pending(
    session: AsyncSession, *, task_id: uuid.UUID, by: str, reason: str
) -> list[uuid.UUID]:
    """Close the task's PENDING requests as CANCELLED with ``reason`` (its run ended with
    no decision), with an INFO ``approval.cancelled`` row each, in the caller's
    transaction. A compare-and-set on PENDING: a decision recorded first wins."""
    closed = await approval_repo.close_of_task(
        session,
        task_id=task_id,
        from_status=ApprovalStatus.PENDING.value,
        to_status=ApprovalStatus.CANCELLED.value,
        by=by,
        at=utcnow(),
        reason=reason[:4000],
    )
    for approval_id in closed:
        await log_repo.add_log(
            session,
            log=logs.build(
                level=LogLevel.INFO,
                event=CLOSED_EVENT,
                message=f"approval request {approval_id} closed as CANCELLED: {reason}",
                source=by,
                task_id=task_id,
                details={"approval_id": str(approval_id)},
            ),
        )
    return closed


async def close_for_finished_tasks(db: Database, *, by: str) -> list[uuid.UUID]:
    """Close every PENDING request whose task already ended (left by an earlier version,
    or by a run that ended where no hook could close it); returns their ids."""
    async with db.transaction() as session:
        finished = await approval_repo.tasks_with_status_in_states(
            session,
            status=ApprovalStatus.PENDING.value,
            states=[s.value for s in TERMINAL_STATES],
        )
        closed: list[uuid.UUID] = []
        for task_id, state in {row.task_id: row.state for row in finished}.items():
            closed += await close_pending(
                session, task_id=task_id, by=by, reason=f"its task had already ended {state}"
            )
    return closed
