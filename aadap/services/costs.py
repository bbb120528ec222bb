"""``cost_records``: one row per LLM call (and per compute run), and the task's running totals.

Durability: a call's row is committed the moment the call returns, in status
``pending``, together with the task's new ``tokens_used``/``cost_usd``. The
commit that records a step's finish settles the rows of every attempt of that
step in the same transaction (``succeeded`` for the attempt that finished,
``failed`` for the attempts before it), so a ``kill -9`` right after it leaves
them settled; the step's Prefect hooks settle what is left (a step that failed).
A process killed while a step runs runs no hook, so ``reconcile`` marks that
step's rows ``orphaned``. Either way every call that returned is in the ledger exactly once:
``call_id`` is unique.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import CostKind, CostStatus
from aadap.core.exceptions import InvalidRequestError
from aadap.core.ids import new_id
from aadap.db.models import CostRecord
from aadap.db.repos import cost_repo, task_repo
from aadap.db.session import Database
from aadap.db.types import utcnow
from aadap.services import aggregates
from aadap.services.context import RunContext, Spend

if TYPE_CHECKING:  # importing aadap.llm loads the HTTP client and the price tables
    from aadap.llm.messages import Completion


async def record_llm_call(
    db: Database,
    *,
    ctx: RunContext | None,
    agent: str,
    completion: Completion,
    call_id: str | None = None,
) -> CostRecord:
    """Commit the call's row (pending) and add it to the task's totals, atomically."""
    usage = completion.usage
    row = CostRecord(
        task_id=None if ctx is None else ctx.task_id,
        flow_run_id=None if ctx is None else ctx.flow_run_id,
        task_run_id=None if ctx is None else ctx.task_run_id,
        agent_type=agent,
        kind=CostKind.LLM.value,
        provider=completion.provider,
        model=completion.model,
        tokens_in=usage.tokens_in,
        tokens_out=usage.tokens_out,
        cost_usd=usage.cost_usd,
        latency_ms=completion.latency_ms,
        attempt=1 if ctx is None else ctx.attempt,
        call_id=call_id or new_id().hex,
        status=CostStatus.PENDING.value,
        details={"step": None if ctx is None else ctx.step, "priced": usage.cost_usd is not None},
        id=new_id(),
        created_at=utcnow(),
    )
    async with db.transaction() as session:
        if ctx is None:
            await cost_repo.store(session, row=row)
        else:
            totals = await store_and_add(
                session, row, ctx.task_id, tokens=usage.total_tokens,
                cost=usage.cost_usd or Decimal(0),
                known=None if ctx.spend is None else ctx.spend.cost_usd,
            )  # fmt: skip
    if ctx is not None and ctx.spend is not None:
        _note(ctx.spend, totals, unpriced=usage.cost_usd is None)
        if ctx.task_run_id is not None:
            ctx.spend.calls[ctx.task_run_id] = ctx.spend.calls_of(ctx.task_run_id) + 1
    return row


def _note(spend: Spend, totals: tuple[int, Decimal] | None, *, unpriced: bool = False) -> None:
    """Bring the run's view of the task's spend up to the committed totals."""
    if totals is not None:
        spend.tokens_used, spend.cost_usd = totals
    if unpriced:
        spend.unpriced_calls += 1


async def store_and_add(
    session: AsyncSession,
    row: CostRecord,
    task_id: uuid.UUID,
    *,
    tokens: int,
    cost: Decimal,
    known: Decimal | None = None,
) -> tuple[int, Decimal] | None:
    """Insert ``row`` (every column set: a Core INSERT applies no ORM default) and add it to
    the task's running totals, exactly, inside the caller's transaction; returns the new
    totals (``None`` if the task is gone).

    One path on both dialects. The row is inserted first: on SQLite its INSERT takes the
    database's single write lock, so no other writer commits until this transaction
    ends. The total is then written as an exact ``Decimal`` sum, compare-and-set:
    ``known``, the total this run last wrote (``Spend.cost_usd``), is used without a read
    if the stored total is still that one (the UPDATE's row lock on PostgreSQL keeps it
    so until commit); otherwise the stored total is read with its row locked
    (``task_repo.current_cost_for_update``) and the sum written from it. Concurrent writers to one task
    serialise on that row and lose no update (tested on PostgreSQL).
    """
    await cost_repo.store(session, row=row)
    if known is not None:
        totals = await task_repo.add_to_totals_if_unchanged(
            session, task_id=task_id, tokens=tokens, known=known, total=known + cost
        )
        if totals is not None:
            return totals
    # no figure, or a stale one: read the stored total, its row locked until commit
    current = await task_repo.current_cost_for_update(session, task_id=task_id)
    if current is None:
        return None
    return await task_repo.add_to_totals_if_unchanged(
        session, task_id=task_id, tokens=tokens, known=current, total=current + cost
    )


async def record_compute(
    db: Database,
    *,
    ctx: RunContext | None,
    task_id: uuid.UUID,
    platform: str,
    duration_ms: int,
    usd_per_hour: Decimal,
    call_id: str,
    details: dict[str, Any] | None = None,
) -> CostRecord:
    """Commit one compute run's row (:func:`compute_row`) and add it to the task's totals;
    once per ``call_id``: the row already recorded under it is returned instead."""
    row = compute_row(
        ctx=ctx, task_id=task_id, platform=platform, duration_ms=duration_ms,
        usd_per_hour=usd_per_hour, call_id=call_id, details=details,
    )  # fmt: skip
    try:
        async with db.transaction() as session:
            existing = await cost_repo.get_by_call_id(session, call_id=call_id)
            if existing is not None:
                return existing
            # the unique call_id settles a race between two writers (the INSERT fails)
            totals = await store_and_add(
                session, row, task_id, tokens=0, cost=row.cost_usd or Decimal(0)
            )
    except IntegrityError:
        async with db.sessions() as session:
            existing = await cost_repo.get_by_call_id(session, call_id=call_id)
        if existing is None:
            raise
        return existing  # a concurrent writer recorded this call first; ours rolled back
    note_compute(ctx, task_id, totals)
    return row


def added_by(row: CostRecord) -> tuple[int, Decimal]:
    """What ``row`` adds to its task's totals: its tokens and its USD cost (0 unpriced)."""
    return row.tokens_in + row.tokens_out, row.cost_usd or Decimal(0)


def compute_row(
    *,
    ctx: RunContext | None,
    task_id: uuid.UUID,
    platform: str,
    duration_ms: int,
    usd_per_hour: Decimal,
    call_id: str,
    details: dict[str, Any] | None = None,
) -> CostRecord:
    """The cost row of one compute run of ``duration_ms`` at ``usd_per_hour``, settled."""
    cost = (Decimal(duration_ms) / Decimal(3_600_000) * usd_per_hour).quantize(
        Decimal("0.0000000001")
    )
    return CostRecord(
        task_id=task_id,
        flow_run_id=None if ctx is None else ctx.flow_run_id,
        task_run_id=None if ctx is None else ctx.task_run_id,
        agent_type="deploy",
        kind=CostKind.COMPUTE.value,
        provider=platform,
        model=f"{platform}-compute",
        tokens_in=0,
        tokens_out=0,
        cost_usd=cost,
        latency_ms=duration_ms,
        attempt=1 if ctx is None else ctx.attempt,
        call_id=call_id,
        status=CostStatus.SUCCEEDED.value,
        details={"usd_per_hour": str(usd_per_hour), **(details or {})},
        id=new_id(),
        created_at=utcnow(),
    )


def note_compute(
    ctx: RunContext | None, task_id: uuid.UUID, totals: tuple[int, Decimal] | None
) -> None:
    """After the commit: bring the run's view of the task's spend up to the totals."""
    if ctx is not None and ctx.spend is not None and ctx.task_id == task_id and totals:
        _note(ctx.spend, totals)


def settle_attempts(
    *, task_run_id: str, final_attempt: int, succeeded: bool
) -> tuple[Update, dict[str, Any]]:
    """The statement and parameters that settle the pending rows of one Prefect task run
    after its last attempt: earlier attempts ``failed``, the last one ``succeeded`` or
    ``failed``."""
    return cost_repo.settle_statement(
        task_run_id=task_run_id, final_attempt=final_attempt, final_status=_final(succeeded)
    )


def _final(succeeded: bool) -> CostStatus:
    """The status of the rows of a task run's last attempt (earlier attempts: ``failed``)."""
    return CostStatus.SUCCEEDED if succeeded else CostStatus.FAILED


async def finalise_attempts(
    db: Database, *, task_run_id: str, final_attempt: int, succeeded: bool
) -> int:
    """Settle the pending rows of one Prefect task run now; returns how many."""
    async with db.transaction() as session:
        return await cost_repo.settle(
            session,
            task_run_id=task_run_id,
            final_attempt=final_attempt,
            final_status=_final(succeeded),
        )


async def orphan_pending_now(db: Database, *, task_id: uuid.UUID) -> int:
    """:func:`orphan_pending` in a transaction of its own, committed on return."""
    async with db.transaction() as session:
        return await orphan_pending(session, task_id=task_id)


async def orphan_pending(session: AsyncSession, *, task_id: uuid.UUID) -> int:
    """Mark the task's pending rows ``orphaned`` (their step ran no hook); returns how many."""
    return await cost_repo.orphan_pending(session, task_id=task_id)


async def unpriced_calls(session: AsyncSession, task_id: uuid.UUID) -> int:
    return await cost_repo.unpriced_llm_calls(session, task_id=task_id)


Grouping = Literal["task", "agent", "model", "day", "week", "month"]


async def summarise(
    session: AsyncSession, *, by: Grouping, since: dt.datetime | None = None, tz: dt.tzinfo = dt.UTC
) -> list[dict[str, Any]]:
    """Spend grouped by task, agent, model, day, week or month (time buckets in ``tz``),
    summed and grouped by the database (:mod:`aadap.services.aggregates`), by key; a task's
    row also carries its ``title`` (None for the rows of a deleted task)."""
    if by in ("day", "week", "month"):
        groups = await aggregates.by_period(session, by, tz, start=since)
    elif by in ("task", "agent", "model"):
        groups = await aggregates.by_key(session, by, start=since)
    else:
        raise InvalidRequestError(
            f"by={by!r} is not valid; allowed: task, agent, model, day, week, month",
            details={"field": "by", "value": by},
        )
    return [
        {
            by: group.key,
            **({"title": group.label} if by == "task" else {}),
            "calls": group.sums.calls,
            "tokens_in": group.sums.tokens_in,
            "tokens_out": group.sums.tokens_out,
            "cost_usd": group.sums.cost_usd,
            "unpriced_calls": group.sums.unpriced_calls,
        }
        for group in sorted(groups, key=lambda g: g.key)
    ]
