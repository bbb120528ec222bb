"""Tasks and their state ledger: the SQL of ``tasks`` and ``state_transitions``.

What a state means, which moves are allowed and when a task counts as live are the
services' (:mod:`aadap.services.ledger`, :mod:`aadap.services.tasks`); this module reads
and writes rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType
from aadap.db import json_sql
from aadap.db.models import Artifact, CostRecord, StateTransition, Task
from aadap.db.repos import artifact_repo

_TASKS: Table = Task.__table__  # type: ignore[assignment]
_TRANSITIONS: Table = StateTransition.__table__  # type: ignore[assignment]
_ARTIFACTS: Table = Artifact.__table__  # type: ignore[assignment]
_COSTS: Table = CostRecord.__table__  # type: ignore[assignment]


# --- tasks ---------------------------------------------------------------------------


async def get_task(session: AsyncSession, *, task_id: uuid.UUID) -> Task | None:
    return await session.get(Task, task_id)


async def get_task_by_idempotency_key(
    session: AsyncSession, *, idempotency_key: str
) -> Task | None:
    query = select(Task).where(Task.idempotency_key == idempotency_key)
    return (await session.execute(query)).scalar_one_or_none()


async def get_task_id_by_flow_run(session: AsyncSession, *, flow_run_id: str) -> uuid.UUID | None:
    query = select(Task.id).where(Task.flow_run_id == flow_run_id)
    return (await session.execute(query)).scalar_one_or_none()


async def list_tasks(session: AsyncSession) -> list[Task]:
    """Every task, in no particular order."""
    return list((await session.execute(select(Task))).scalars())


async def list_recent_tasks(
    session: AsyncSession, *, limit: int, state: str | None = None
) -> list[Task]:
    """The newest ``limit`` tasks (in ``state``, if given), newest first."""
    query = select(Task).order_by(Task.created_at.desc()).limit(limit)
    if state is not None:
        query = query.where(Task.current_state == state)
    return list((await session.execute(query)).scalars())


async def list_tasks_not_in_states(session: AsyncSession, *, states: Sequence[str]) -> list[Task]:
    query = select(Task).where(Task.current_state.not_in(list(states)))
    return list((await session.execute(query)).scalars())


async def add_task(session: AsyncSession, *, task: Task) -> None:
    """Insert ``task`` now (flushed: its row exists for what the transaction writes next)."""
    session.add(task)
    await session.flush()


# --- the state: compare-and-set on tasks.current_state ---------------------------------


async def get_current_state(
    session: AsyncSession, *, task_id: uuid.UUID, for_update: bool = False
) -> str | None:
    """The task's ``current_state`` (None: no such task); ``for_update`` locks its row until
    commit (PostgreSQL)."""
    query = select(_TASKS.c.current_state).where(_TASKS.c.id == task_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


# A move's two statements, built once with bound parameters: every step makes two or
# three moves, and building, coercing and keying a statement anew each time cost about as
# much CPU as running it (measured on PostgreSQL: 4.4 ms of CPU per move, 3.0 ms with these).
# Core statements on the tables (not the ORM entities): the ledger is on every step's
# path, and the ORM's bulk-update bookkeeping buys nothing here.
_MOVE = (
    _TASKS.update()
    .where(_TASKS.c.id == bindparam("task_id_"), _TASKS.c.current_state == bindparam("from_"))
    .values(current_state=bindparam("to_"), updated_at=bindparam("at_"))
)


async def set_state_if(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    expected: str,
    to_state: str,
    at: dt.datetime,
) -> bool:
    """Set the task's state to ``to_state`` if it is ``expected`` (compare-and-set); on
    PostgreSQL the UPDATE locks the row until commit, so concurrent writers of one task
    serialise. Returns whether it matched."""
    params = {"task_id_": task_id, "from_": expected, "to_": to_state, "at_": at}
    result = await session.execute(_MOVE, params)
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


# --- the ledger: state_transitions ----------------------------------------------------


class NewTransition(NamedTuple):
    """One ledger row to append (:func:`append_transitions`)."""

    id: uuid.UUID
    from_state: str
    to_state: str
    triggered_by: str
    reason: str | None
    metadata: dict[str, Any]


# the next sequence number is computed by the INSERT itself: one round trip, and the row
# lock the compare-and-set (:func:`set_state_if`) holds keeps concurrent writers apart
_NEXT_SEQ = (
    select(func.coalesce(func.max(_TRANSITIONS.c.sequence_num), 0) + 1)
    .where(_TRANSITIONS.c.task_id == bindparam("task_id_"))
    .scalar_subquery()
)
_COLUMNS = ("id", "from_state", "to_state", "triggered_by", "reason", "metadata", "created_at")
_PARAMS = ("id_", "from_", "to_", "by_", "reason_", "metadata_", "at_")
#: rows -> the INSERT that appends them, built on first use
_APPENDS: dict[int, Any] = {}


def _append_statement(hops: int) -> Any:
    """The INSERT of ``hops`` consecutive rows for the task ``task_id_``, numbered from
    :data:`_NEXT_SEQ` on, returning their sequence numbers. Row ``i`` takes its values from
    the parameters suffixed ``i``."""
    statement = _APPENDS.get(hops)
    if statement is not None:
        return statement
    task_id = bindparam("task_id_", type_=_TRANSITIONS.c.task_id.type)

    def value(i: int, column: str, param: str) -> Any:
        return bindparam(f"{param}{i}", type_=_TRANSITIONS.c[column].type)

    rows = [
        select(
            *(value(i, c, p) for c, p in zip(_COLUMNS, _PARAMS, strict=True)),
            task_id,
            _NEXT_SEQ + i,
        )
        for i in range(hops)
    ]
    statement = _APPENDS[hops] = (
        _TRANSITIONS.insert()
        .from_select(
            [*_COLUMNS, "task_id", "sequence_num"], rows[0] if hops == 1 else union_all(*rows)
        )
        .returning(_TRANSITIONS.c.sequence_num)
    )
    return statement


async def append_transitions(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    rows: Sequence[NewTransition],
    at: dt.datetime,
) -> list[int]:
    """Append ``rows`` to the task's ledger with consecutive sequence numbers after its
    last, in one INSERT (the same statement on both dialects). Returns the numbers given."""
    params: dict[str, Any] = {"task_id_": task_id}
    for i, row in enumerate(rows):
        params.update(
            {
                f"id_{i}": row.id,
                f"from_{i}": row.from_state,
                f"to_{i}": row.to_state,
                f"by_{i}": row.triggered_by,
                f"reason_{i}": row.reason,
                f"metadata_{i}": row.metadata,
                f"at_{i}": at,
            }
        )
    result = await session.execute(_append_statement(len(rows)), params)
    return list(result.scalars())


async def list_transitions(session: AsyncSession, *, task_id: uuid.UUID) -> list[StateTransition]:
    """The task's ledger, in sequence order."""
    query = (
        select(StateTransition)
        .where(StateTransition.task_id == task_id)
        .order_by(StateTransition.sequence_num)
    )
    return list((await session.execute(query)).scalars())


async def count_transitions_into(session: AsyncSession, *, task_id: uuid.UUID, state: str) -> int:
    """How many ledger rows of the task move into ``state``."""
    query = select(func.count(StateTransition.id)).where(
        StateTransition.task_id == task_id, StateTransition.to_state == state
    )
    return int((await session.execute(query)).scalar_one())


# --- the summary read -------------------------------------------------------------------


class TaskSummaryRow(NamedTuple):
    """The task with what its summary reports, read in one round trip
    (:func:`get_summary_row`). Contents are JSON text as stored."""

    task: Task
    optimized_code: str | None
    generated_code: str | None
    execution_result: str | None
    last_reason: str | None
    #: the task's cost rows: (agent_type, kind, tokens_in, tokens_out, cost_usd_e10) each
    cost_rows: list[list[Any]] | None


def _newest_content(artifact_type: ArtifactType, name: str) -> Any:
    """The content of the task's newest (type, name) artifact, as a scalar subquery."""
    return artifact_repo.newest_of_key(_ARTIFACTS.c.content, Task.id, artifact_type.value, name)


_COST_FIELDS = (
    _COSTS.c.agent_type,
    _COSTS.c.kind,
    _COSTS.c.tokens_in,
    _COSTS.c.tokens_out,
    _COSTS.c.cost_usd_e10,  # an integer: exact in JSON
)
#: dialect -> the summary's one query, built on first use
_SUMMARIES: dict[str, Any] = {}


def _summary_query(dialect: str) -> Any:
    # the one dialect fork: the cost rows come back as a JSON array, whose functions
    # PostgreSQL and SQLite spell differently (:mod:`aadap.db.json_sql`)
    query = _SUMMARIES.get(dialect)
    if query is None:
        costs = json_sql.array_agg(dialect, json_sql.row(dialect, *_COST_FIELDS))
        query = _SUMMARIES[dialect] = select(
            Task,
            _newest_content(ArtifactType.OPTIMIZED_CODE, "code"),
            _newest_content(ArtifactType.GENERATED_CODE, "code"),
            _newest_content(ArtifactType.EXECUTION_RESULT, "result"),
            select(_TRANSITIONS.c.reason)
            .where(_TRANSITIONS.c.task_id == Task.id)
            .order_by(_TRANSITIONS.c.sequence_num.desc())
            .limit(1)
            .scalar_subquery(),
            select(costs).where(_COSTS.c.task_id == Task.id).scalar_subquery(),
        ).where(Task.id == bindparam("task_id_"))
    return query


async def get_summary_row(session: AsyncSession, *, task_id: uuid.UUID) -> TaskSummaryRow:
    """The task, its newest optimised and generated code and execution result, its last
    transition's reason and its cost rows: one round trip. The task must exist."""
    query = _summary_query(session.get_bind().dialect.name)
    row = (await session.execute(query, {"task_id_": task_id})).one()
    return TaskSummaryRow(*row)


# --- running totals ------------------------------------------------------------------
#
# The task's running totals, which every LLM call updates (``costs.store_and_add``): Core
# statements built once with bound parameters. SQLite has no decimal type (``cost_usd +
# x`` on its text column is floating point), so the service computes the exact sum and
# this writes it only if the stored total is still the one it was computed from
# (compare-and-set). One path for both dialects.
_CURRENT_COST = (
    select(_TASKS.c.cost_usd)
    .where(_TASKS.c.id == bindparam("task_id_"))
    # PostgreSQL: FOR NO KEY UPDATE, the lock the UPDATE takes, which the foreign-key
    # check of a concurrent writer's INSERT (FOR KEY SHARE) does not wait for; SQLite:
    # nothing (the INSERT before it holds the database's write lock)
    .with_for_update(key_share=True)
)
_TOTALS_IF_UNCHANGED = (
    _TASKS.update()
    .where(
        _TASKS.c.id == bindparam("task_id_"),
        _TASKS.c.cost_usd == bindparam("known_", type_=_TASKS.c.cost_usd.type),
    )
    .values(
        tokens_used=_TASKS.c.tokens_used + bindparam("tokens_", type_=_TASKS.c.tokens_used.type),
        cost_usd=bindparam("total_", type_=_TASKS.c.cost_usd.type),
    )
    .returning(_TASKS.c.tokens_used, _TASKS.c.cost_usd)
)


async def current_cost_for_update(session: AsyncSession, *, task_id: uuid.UUID) -> Decimal | None:
    """The task's stored cost total, its row locked until commit; ``None``: no such task."""
    found = await session.execute(_CURRENT_COST, {"task_id_": task_id})
    return found.scalar_one_or_none()


async def add_to_totals_if_unchanged(
    session: AsyncSession, *, task_id: uuid.UUID, tokens: int, known: Decimal, total: Decimal
) -> tuple[int, Decimal] | None:
    """Add ``tokens`` and set the cost to ``total`` if it is still ``known``; the new
    ``(tokens_used, cost_usd)``, or ``None`` if the total moved (or the task is gone)."""
    params = {"task_id_": task_id, "tokens_": tokens, "known_": known, "total_": total}
    row = (await session.execute(_TOTALS_IF_UNCHANGED, params)).one_or_none()
    return None if row is None else (int(row[0]), Decimal(row[1]))


async def list_task_ids_using_connection(
    session: AsyncSession, *, connection_id: uuid.UUID, not_in_states: Sequence[str]
) -> list[uuid.UUID]:
    """Ids of the tasks bound to ``connection_id`` whose state is not in ``not_in_states``."""
    query = select(Task.id).where(
        Task.connection_id == connection_id, Task.current_state.not_in(list(not_in_states))
    )
    return list((await session.execute(query)).scalars())


async def get_task_by_flow_run(session: AsyncSession, *, flow_run_id: str) -> Task | None:
    query = select(Task).where(Task.flow_run_id == flow_run_id)
    return (await session.execute(query)).scalar_one_or_none()


__all__ = [
    "NewTransition",
    "TaskSummaryRow",
    "add_task",
    "add_to_totals_if_unchanged",
    "append_transitions",
    "count_transitions_into",
    "current_cost_for_update",
    "get_current_state",
    "get_summary_row",
    "get_task",
    "get_task_by_flow_run",
    "get_task_by_idempotency_key",
    "get_task_id_by_flow_run",
    "list_recent_tasks",
    "list_task_ids_using_connection",
    "list_tasks",
    "list_tasks_not_in_states",
    "list_transitions",
    "set_state_if",
]
