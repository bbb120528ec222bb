"""The cost ledger's SQL: ``cost_records`` rows written, settled, and summed by the database.

Writes are Core statements on the table, built once with bound parameters: every LLM
call writes a row and every step settles its rows. Through the ORM entities each UPDATE
also ran the session's synchronisation (evaluating the WHERE clause and the new values
against every loaded object) and each row a unit-of-work flush: 0.8 ms of CPU per UPDATE
measured on PostgreSQL, for objects nothing reads.

Sums are of ``cost_usd_e10`` integers (:class:`~aadap.db.types.UsdE10`), which both
dialects ``SUM`` exactly; a sum comes back as an exact ``Decimal``. Reads over a window of
``created_at`` are ranges of ``ix_cost_records_created_at_sums`` (every summed column) or
``ix_cost_records_created_at_groups`` (with the grouped ones), index only: the
``*_statement`` builders are public so that tests can ``EXPLAIN`` exactly what runs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    Update,
    and_,
    bindparam,
    case,
    column,
    func,
    literal_column,
    select,
    text,
    type_coerce,
    update,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import CostKind, CostStatus
from aadap.db.base import column_values
from aadap.db.models import CostRecord, Task
from aadap.db.types import UTCDateTime, usd_from_e10

_COSTS: Table = CostRecord.__table__  # type: ignore[assignment]
_created = _COSTS.c.created_at
_amount = _COSTS.c.cost_usd_e10

# --- writing and settling rows -------------------------------------------------------------

_STORE = _COSTS.insert()
#: settles one Prefect task run's pending rows (:func:`settle_statement`)
SETTLE = (
    _COSTS.update()
    .where(
        _COSTS.c.task_run_id == bindparam("task_run_id_"),
        _COSTS.c.status == CostStatus.PENDING.value,
    )
    .values(
        status=case(
            (_COSTS.c.attempt < bindparam("final_attempt_"), CostStatus.FAILED.value),
            else_=bindparam("final_status_"),
        )
    )
)


class Bound(NamedTuple):
    """A statement and its parameters, for a caller that executes it in its own batch."""

    statement: Update
    params: dict[str, Any]


async def store(session: AsyncSession, *, row: CostRecord) -> None:
    """Insert ``row``, every column set (a Core INSERT applies no ORM default)."""
    await session.execute(_STORE, column_values(row))


async def get_by_call_id(session: AsyncSession, *, call_id: str) -> CostRecord | None:
    query = select(CostRecord).where(CostRecord.call_id == call_id)
    return (await session.execute(query)).scalar_one_or_none()


def settle_statement(*, task_run_id: str, final_attempt: int, final_status: CostStatus) -> Bound:
    """:data:`SETTLE` bound: the task run's pending rows of attempts before ``final_attempt``
    become ``failed``, those of ``final_attempt`` ``final_status``."""
    return Bound(
        SETTLE,
        {
            "task_run_id_": task_run_id,
            "final_attempt_": final_attempt,
            "final_status_": final_status.value,
        },
    )


async def settle(
    session: AsyncSession, *, task_run_id: str, final_attempt: int, final_status: CostStatus
) -> int:
    """:func:`settle_statement` executed; returns how many rows it settled."""
    statement, params = settle_statement(
        task_run_id=task_run_id, final_attempt=final_attempt, final_status=final_status
    )
    return int((await session.execute(statement, params)).rowcount)  # type: ignore[attr-defined]


async def orphan_pending(session: AsyncSession, *, task_id: uuid.UUID) -> int:
    """Mark the task's ``pending`` rows ``orphaned``; returns how many."""
    result = await session.execute(
        update(CostRecord)
        .where(CostRecord.task_id == task_id, CostRecord.status == CostStatus.PENDING.value)
        .values(status=CostStatus.ORPHANED.value)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unpriced_llm_calls(session: AsyncSession, *, task_id: uuid.UUID) -> int:
    """How many of the task's LLM calls have no price."""
    query = select(func.count(CostRecord.id)).where(
        CostRecord.task_id == task_id,
        CostRecord.kind == CostKind.LLM.value,
        CostRecord.cost_usd.is_(None),
    )
    return int((await session.execute(query)).scalar_one())


# --- sums ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sums:
    """What a group of cost rows adds up to (``unpriced_calls`` add nothing to the USD)."""

    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_calls: int = 0

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.calls + other.calls,
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            self.cost_usd + other.cost_usd,
            self.unpriced_calls + other.unpriced_calls,
        )


@dataclass(frozen=True)
class KeyedSums:
    """The sums of the rows of one agent (``key``: ``(agent_type,)``) or one model
    (``(provider, model)``)."""

    key: tuple[str, ...]
    sums: Sums


@dataclass(frozen=True)
class TaskSums:
    task_id: uuid.UUID | None  # None: the rows of a deleted task
    title: str | None
    sums: Sums


@dataclass(frozen=True)
class PairSums:
    agent_type: str
    provider: str
    model: str
    sums: Sums


@dataclass(frozen=True)
class PeriodSums:
    index: int  # the period's index in the periods asked for
    sums: Sums


class PeriodTotals(NamedTuple):
    cost_usd: Decimal
    calls: int
    unpriced_calls: int


class Span(NamedTuple):
    """The first and the last ``created_at`` of a window's rows."""

    first: dt.datetime
    last: dt.datetime


class Interval(Protocol):
    """A half-open UTC interval ``[start, end)`` (a :class:`~aadap.services.periods.Bounds`)."""

    @property
    def start(self) -> dt.datetime: ...

    @property
    def end(self) -> dt.datetime: ...


_KEYS = {
    "agent": [_COSTS.c.agent_type],
    "model": [_COSTS.c.provider, _COSTS.c.model],
    "task": [_COSTS.c.task_id],
}


def _sums_columns(source: Any = _COSTS.c) -> list[ColumnElement[Any]]:
    return [
        func.count().label("calls"),
        func.coalesce(func.sum(source.tokens_in), 0).label("tokens_in"),
        func.coalesce(func.sum(source.tokens_out), 0).label("tokens_out"),
        _units(source.cost_usd_e10).label("cost_e10"),
        (func.count() - func.count(source.cost_usd_e10)).label("unpriced"),
    ]


def _units(amounts: ColumnElement[Any]) -> ColumnElement[int]:
    """``SUM`` of ``UsdE10`` amounts as the integer it is (``usd_from_e10`` makes it USD)."""
    return type_coerce(func.sum(amounts), BigInteger)


def _sums(row: Any) -> Sums:
    return Sums(
        calls=int(row.calls),
        tokens_in=int(row.tokens_in),
        tokens_out=int(row.tokens_out),
        cost_usd=usd_from_e10(row.cost_e10),
        unpriced_calls=int(row.unpriced),
    )


def _within(start: dt.datetime | None, end: dt.datetime | None) -> list[ColumnElement[bool]]:
    """``[start, end)``; ``None``: unbounded."""
    where = []
    if start is not None:
        where.append(_created >= start)
    if end is not None:
        where.append(_created < end)
    return where


def _grouped(keys: list[Any], start: dt.datetime | None, end: dt.datetime | None) -> Select[Any]:
    return select(*keys, *_sums_columns()).where(*_within(start, end)).group_by(*keys)


async def sums_by_key(
    session: AsyncSession,
    *,
    grouping: Literal["agent", "model"],
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[KeyedSums]:
    """The sums of the rows in ``[start, end)`` per agent or per provider and model."""
    keys = _KEYS[grouping]
    rows = await session.execute(_grouped(keys, start, end))
    return [KeyedSums(tuple(row[: len(keys)]), _sums(row)) for row in rows]


async def sums_by_task(
    session: AsyncSession, *, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[TaskSums]:
    """The sums of the rows in ``[start, end)`` per task, with the task's title."""
    sub = _grouped(_KEYS["task"], start, end).subquery()
    with_titles = select(sub, Task.title).outerjoin(Task, Task.id == sub.c.task_id)
    return [
        TaskSums(row.task_id, row.title, _sums(row)) for row in await session.execute(with_titles)
    ]


async def sums_by_agent_and_model(
    session: AsyncSession, *, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> list[PairSums]:
    """The sums of the rows in ``[start, end)`` per agent and model pair
    (:func:`agent_model_statement`)."""
    return [
        PairSums(row.agent_type, row.provider, row.model, _sums(row))
        for row in await session.execute(agent_model_statement(start, end))
    ]


def agent_model_statement(start: dt.datetime | None, end: dt.datetime | None) -> Select[Any]:
    """Spend in ``[start, end)`` per agent and model pair: over a window, one index-only
    range of ``ix_cost_records_created_at_groups`` (checked in the tests)."""
    return _grouped([_COSTS.c.agent_type, _COSTS.c.provider, _COSTS.c.model], start, end)


async def span(
    session: AsyncSession, *, start: dt.datetime | None = None, end: dt.datetime | None = None
) -> Span | None:
    """The first and last ``created_at`` in ``[start, end)`` (two index lookups); ``None``
    when the window has no row."""
    window = _within(start, end)
    first, last = (
        await session.execute(
            select(
                select(func.min(_created)).where(*window).scalar_subquery(),
                select(func.max(_created)).where(*window).scalar_subquery(),
            )
        )
    ).one()
    return None if first is None else Span(first, last)


async def sums_by_period(
    session: AsyncSession, *, periods: Sequence[Interval], start: dt.datetime, end: dt.datetime
) -> list[PeriodSums]:
    """The sums of the rows in ``[start, end)`` per period that has rows
    (:func:`by_period_statement`), in no particular order."""
    grouped = by_period_statement(periods, start, end)
    # The one place the dialects differ: PostgreSQL only, no JIT compilation. PostgreSQL
    # cannot estimate a range join: it takes a ninth of the table for each period, so a
    # year of days over a million rows is costed as 40 M and compiled with LLVM inlining
    # and optimisation, 0.2 s in a new connection for a query that runs in 0.1 s
    # (measured). A read session is in autocommit, so the setting is set and reset rather
    # than ``SET LOCAL``.
    jit_off = session.get_bind().dialect.name == "postgresql"
    if jit_off:
        await session.execute(text("SET jit = off"))
    try:
        return [PeriodSums(row.i, _sums(row)) for row in await session.execute(grouped)]
    finally:
        if jit_off:
            await session.execute(text("RESET jit"))


def by_period_statement(
    periods: Sequence[Interval], start: dt.datetime, end: dt.datetime
) -> Select[Any]:
    """The sums of the rows in ``[start, end)`` per period, keyed ``i`` (the period's index
    in ``periods``), from the periods' bounds as a ``VALUES`` CTE joined on ``created_at``
    ranges. Both dialects answer it with one index range scan per period on
    ``ix_cost_records_created_at_sums`` (index only, checked in a PostgreSQL test) and no
    expression per row."""
    clamped = [(i, max(p.start, start), min(p.end, end)) for i, p in enumerate(periods)]
    bounds = (
        values(
            column("i", Integer()),
            column("period_start", UTCDateTime()),
            column("period_end", UTCDateTime()),
            name="periods",
        )
        .data(clamped)
        .cte()
    )
    inside = and_(_created >= bounds.c.period_start, _created < bounds.c.period_end)
    return (
        select(bounds.c.i, *_sums_columns()).join_from(bounds, _COSTS, inside).group_by(bounds.c.i)
    )


def in_periods_statement(periods: Sequence[Interval]) -> Select[Any]:
    """``(USD units, calls, unpriced calls)`` per period, one statement over the span of the
    periods that needs only ``created_at`` and ``cost_usd_e10``: PostgreSQL answers it from
    ``ix_cost_records_created_at_sums`` alone (an index-only scan, checked in the tests)."""
    columns: list[ColumnElement[Any]] = []
    for p in periods:
        inside = and_(_created >= p.start, _created < p.end)
        columns += [
            _units(case((inside, _amount))),
            func.count(case((inside, literal_column("1")))),
            func.count(case((and_(inside, _amount.is_(None)), literal_column("1")))),
        ]
    window = _within(min(p.start for p in periods), max(p.end for p in periods))
    return select(*columns).where(*window)


async def totals_in_periods(
    session: AsyncSession, *, periods: Sequence[Interval]
) -> list[PeriodTotals]:
    """USD, calls and unpriced calls in each of ``periods`` (at least one), one statement
    (:func:`in_periods_statement`)."""
    row = (await session.execute(in_periods_statement(periods))).one()
    return [
        PeriodTotals(usd_from_e10(row[i]), int(row[i + 1]), int(row[i + 2]))
        for i in range(0, len(row), 3)
    ]
