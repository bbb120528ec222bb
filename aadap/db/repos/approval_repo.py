"""Approval requests: one per version of a task's code that asked for a decision.

Which statuses approve, and which task states have ended, are the services' to say: the
callers pass them in.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.db.models import ApprovalRequest, Task


class RequestOfTask(NamedTuple):
    """An approval request with the task it asks about."""

    request: ApprovalRequest
    task: Task


class TaskInState(NamedTuple):
    """A task (by id) and the state it is in."""

    task_id: uuid.UUID
    state: str


async def get(
    session: AsyncSession, *, approval_id: uuid.UUID, for_update: bool = False
) -> ApprovalRequest | None:
    """The request ``approval_id``; ``for_update``: its row locked until the commit."""
    return await session.get(ApprovalRequest, approval_id, with_for_update=for_update or None)


async def with_status(session: AsyncSession, *, status: str) -> list[RequestOfTask]:
    """The requests in ``status`` with their tasks, oldest request first."""
    rows = await session.execute(
        select(ApprovalRequest, Task)
        .join(Task, Task.id == ApprovalRequest.task_id)
        .where(ApprovalRequest.status == status)
        .order_by(ApprovalRequest.requested_at)
    )
    return [RequestOfTask(a, t) for a, t in rows]


async def all_with_tasks(session: AsyncSession) -> list[RequestOfTask]:
    """Every request with its task, in no set order."""
    rows = await session.execute(
        select(ApprovalRequest, Task).join(Task, Task.id == ApprovalRequest.task_id)
    )
    return [RequestOfTask(a, t) for a, t in rows]


async def latest_of_task(session: AsyncSession, *, task_id: uuid.UUID) -> ApprovalRequest | None:
    """The task's newest request."""
    rows = await session.execute(
        select(ApprovalRequest)
        .where(ApprovalRequest.task_id == task_id)
        .order_by(ApprovalRequest.requested_at.desc(), ApprovalRequest.id.desc())
        .limit(1)
    )
    return rows.scalars().first()


async def latest_for_code(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    code_hash: str,
    statuses: Iterable[str] | None = None,
) -> ApprovalRequest | None:
    """The task's newest request for the code ``code_hash`` (in one of ``statuses``, if
    given)."""
    query = select(ApprovalRequest).where(
        ApprovalRequest.task_id == task_id, ApprovalRequest.code_hash == code_hash
    )
    if statuses is not None:
        query = query.where(ApprovalRequest.status.in_(list(statuses)))
    query = query.order_by(ApprovalRequest.requested_at.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def close_of_task(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    from_status: str,
    to_status: str,
    by: str,
    at: dt.datetime,
    reason: str,
) -> list[uuid.UUID]:
    """Set the task's requests in ``from_status`` to ``to_status`` (decided ``by``, ``at``,
    for ``reason``), a compare-and-set on ``from_status``; returns their ids."""
    closed = await session.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.task_id == task_id, ApprovalRequest.status == from_status)
        .values(status=to_status, decided_by=by, decided_at=at, reason=reason)
        .returning(ApprovalRequest.id)
        .execution_options(synchronize_session=False)
    )
    return list(closed.scalars())


async def tasks_with_status_in_states(
    session: AsyncSession, *, status: str, states: Iterable[str]
) -> list[TaskInState]:
    """The task of each request in ``status`` whose task is in one of ``states`` (a task
    once per request)."""
    rows = await session.execute(
        select(ApprovalRequest.task_id, Task.current_state)
        .join(Task, Task.id == ApprovalRequest.task_id)
        .where(ApprovalRequest.status == status, Task.current_state.in_(list(states)))
    )
    return [TaskInState(task_id, state) for task_id, state in rows]


async def ids_due(
    session: AsyncSession, *, status: str, expired_by: dt.datetime
) -> list[uuid.UUID]:
    """Ids of the requests in ``status`` whose ``expires_at`` is at or before ``expired_by``,
    the earliest first."""
    query = (
        select(ApprovalRequest.id)
        .where(
            ApprovalRequest.status == status,
            ApprovalRequest.expires_at.is_not(None),
            ApprovalRequest.expires_at <= expired_by,
        )
        .order_by(ApprovalRequest.expires_at)
    )
    return list((await session.execute(query)).scalars())


async def set_status_if(
    session: AsyncSession,
    *,
    approval_id: uuid.UUID,
    from_status: str,
    to_status: str,
    by: str,
    at: dt.datetime,
    reason: str,
) -> bool:
    """Move one request from ``from_status`` to ``to_status`` (compare-and-set); True if it moved."""
    moved = await session.execute(
        update(ApprovalRequest)
        .where(ApprovalRequest.id == approval_id, ApprovalRequest.status == from_status)
        .values(status=to_status, decided_by=by, decided_at=at, reason=reason)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


async def list_of_task(session: AsyncSession, *, task_id: uuid.UUID) -> list[ApprovalRequest]:
    """The task's requests, oldest first."""
    query = (
        select(ApprovalRequest)
        .where(ApprovalRequest.task_id == task_id)
        .order_by(ApprovalRequest.requested_at, ApprovalRequest.id)
    )
    return list((await session.execute(query)).scalars())


__all__ = [
    "RequestOfTask",
    "TaskInState",
    "all_with_tasks",
    "close_of_task",
    "get",
    "ids_due",
    "latest_for_code",
    "latest_of_task",
    "list_of_task",
    "set_status_if",
    "tasks_with_status_in_states",
    "with_status",
]  # fmt: skip
