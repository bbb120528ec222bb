"""The state ledger: every move of a task is one ``state_transitions`` row, written in
the same transaction as ``tasks.current_state``.

Compare-and-set: the ``UPDATE … WHERE current_state = :from`` both checks that the
caller saw the current state and, on PostgreSQL, locks the task row until commit,
so concurrent writers to one task serialise and ``MAX(sequence_num) + 1`` cannot
race (SQLite serialises all writers anyway).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.exceptions import StateConflictError, TaskNotFoundError
from aadap.core.states import TaskState, check_transition
from aadap.db.models import StateTransition, Task
from aadap.db.types import utcnow
from aadap.services import progress


async def current_state(session: AsyncSession, task_id: uuid.UUID) -> TaskState:
    state = (
        await session.execute(select(Task.current_state).where(Task.id == task_id))
    ).scalar_one_or_none()
    if state is None:
        raise TaskNotFoundError(f"task {task_id} does not exist", task_id=str(task_id))
    return TaskState(state)


async def record_transition(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to_state: TaskState,
    triggered_by: str,
    reason: str | None = None,
    expected_from: TaskState | None = None,
    metadata: dict[str, Any] | None = None,
) -> StateTransition:
    """Move ``task_id`` to ``to_state`` (whitelisted) and append the ledger row. Does not commit."""
    src = expected_from or await current_state(session, task_id)
    check_transition(src, to_state, task_id=str(task_id))
    result = await session.execute(
        update(Task)
        .where(Task.id == task_id, Task.current_state == src.value)
        .values(current_state=to_state.value, updated_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        actual = await current_state(session, task_id)
        raise StateConflictError(
            f"task {task_id} moved to {actual} while this writer expected {src}; {src} -> {to_state} refused",
            task_id=str(task_id),
            details={"expected": src.value, "actual": actual.value, "to_state": to_state.value},
        )
    last = (
        await session.execute(
            select(func.coalesce(func.max(StateTransition.sequence_num), 0)).where(
                StateTransition.task_id == task_id
            )
        )
    ).scalar_one()
    row = StateTransition(
        task_id=task_id,
        from_state=src.value,
        to_state=to_state.value,
        sequence_num=int(last) + 1,
        triggered_by=triggered_by,
        reason=reason,
        metadata_=metadata or {},
    )
    session.add(row)
    await session.flush()
    progress.emit(task_id, src, to_state, reason)
    return row


async def history(session: AsyncSession, task_id: uuid.UUID) -> list[StateTransition]:
    rows = await session.execute(
        select(StateTransition)
        .where(StateTransition.task_id == task_id)
        .order_by(StateTransition.sequence_num)
    )
    return list(rows.scalars())


async def count_entries(session: AsyncSession, task_id: uuid.UUID, state: TaskState) -> int:
    """How many times the task entered ``state`` (bounds the rework loops across resumes)."""
    return int(
        (
            await session.execute(
                select(func.count(StateTransition.id)).where(
                    StateTransition.task_id == task_id, StateTransition.to_state == state.value
                )
            )
        ).scalar_one()
    )
