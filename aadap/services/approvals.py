"""Reading approval requests (what a reviewer needs to decide)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ApprovalStatus
from aadap.core.exceptions import InvalidRequestError
from aadap.db.models import ApprovalRequest, Task


async def pending(session: AsyncSession) -> list[tuple[ApprovalRequest, Task]]:
    rows = await session.execute(
        select(ApprovalRequest, Task)
        .join(Task, Task.id == ApprovalRequest.task_id)
        .where(ApprovalRequest.status == ApprovalStatus.PENDING.value)
        .order_by(ApprovalRequest.requested_at)
    )
    return [(a, t) for a, t in rows.tuples()]


async def find(session: AsyncSession, ident: str) -> tuple[ApprovalRequest, Task]:
    """An approval request by id or unique prefix (≥ 6 characters)."""
    key = ident.strip().lower()
    if len(key) < 6:
        raise InvalidRequestError(
            f"approval id {ident!r} is too short; give at least 6 characters",
            details={"field": "id"},
        )
    rows = (
        await session.execute(
            select(ApprovalRequest, Task).join(Task, Task.id == ApprovalRequest.task_id)
        )
    ).tuples()
    matches = [
        (a, t)
        for a, t in rows
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
