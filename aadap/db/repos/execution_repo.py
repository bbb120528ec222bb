"""Executions: runs of a task's code on its platform, each with its outcome."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.db.models import Execution

EXECUTIONS: Table = Execution.__table__  # type: ignore[assignment]


async def one_of_task(
    session: AsyncSession, *, task_id: uuid.UUID, status: str, code_hash: str | None = None
) -> Execution | None:
    """An execution of the task in ``status`` (of the code ``code_hash``, if given)."""
    conditions = [] if code_hash is None else [Execution.code_hash == code_hash]
    query = select(Execution).where(
        Execution.task_id == task_id, *conditions, Execution.status == status
    )
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def set_values(
    session: AsyncSession, *, execution_id: uuid.UUID, values: Mapping[str, Any]
) -> None:
    """Set the execution's columns to ``values``."""
    await session.execute(update(EXECUTIONS).where(EXECUTIONS.c.id == execution_id).values(values))


async def list_of_task(session: AsyncSession, *, task_id: uuid.UUID) -> list[Execution]:
    """The task's executions, oldest first."""
    query = (
        select(Execution)
        .where(Execution.task_id == task_id)
        .order_by(Execution.created_at, Execution.id)
    )
    return list((await session.execute(query)).scalars())


__all__ = [
    "EXECUTIONS",
    "list_of_task",
    "one_of_task",
    "set_values",
]
