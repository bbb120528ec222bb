"""Spend summed and grouped by the database: by agent, model or task, by local day, week
or month, and over budget periods. Only the grouped rows come back.

Amounts are ``cost_records.cost_usd_e10`` integers (:class:`~aadap.db.types.UsdE10`),
which both dialects ``SUM`` exactly; a sum comes back as an exact ``Decimal``.

Time buckets follow a time zone, including the days its clocks change and zones whose
offset is not whole hours: the periods' UTC bounds are computed here with ``zoneinfo``
(:func:`~aadap.services.periods.covering`) and sent as a ``VALUES`` list that the
database joins on ``created_at`` ranges (:func:`by_period`). No time zone arithmetic
runs in the database, each period's rows are one range of
``ix_cost_records_created_at_sums``, which holds every summed column, and the statement
is the same on both dialects.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Table,
    and_,
    case,
    column,
    func,
    literal_column,
    select,
    text,
    type_coerce,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.exceptions import InvalidRequestError
from aadap.db.models import CostRecord, Task
from aadap.db.types import UTCDateTime, usd_from_e10
from aadap.services.periods import Bounds, Period, covering

KeyGrouping = Literal["task", "agent", "model"]
#: the most time buckets one query makes (27 years of days)
MAX_BUCKETS = 10_000
DELETED_TASK = "(deleted task)"

_COSTS: Table = CostRecord.__table__  # type: ignore[assignment]
_created = _COSTS.c.created_at
_amount = _COSTS.c.cost_usd_e10
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


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
class Group:
    key: str
    sums: Sums
    label: str | None = None  # a task's title


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


async def by_key(
    session: AsyncSession,
    grouping: KeyGrouping,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[Group]:
    """Spend in ``[start, end)`` per agent, per ``provider/model`` or per task (labelled
    with its title; rows of a deleted task under ``(deleted task)``)."""
    keys = {
        "agent": [_COSTS.c.agent_type],
        "model": [_COSTS.c.provider, _COSTS.c.model],
        "task": [_COSTS.c.task_id],
    }[grouping]
    grouped = select(*keys, *_sums_columns()).where(*_within(start, end)).group_by(*keys)
    if grouping != "task":
        rows = await session.execute(grouped)
        return [Group("/".join(row[: len(keys)]), _sums(row)) for row in rows]
    sub = grouped.subquery()
    with_titles = select(sub, Task.title).outerjoin(Task, Task.id == sub.c.task_id)
    return [
        Group(_task_key(row.task_id), _sums(row), row.title)
        for row in await session.execute(with_titles)
    ]


async def by_agent_and_model(
    session: AsyncSession,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> tuple[list[Group], list[Group]]:
    """:func:`by_key` ``agent`` and ``model`` from one scan of ``[start, end)``: the
    database groups by agent and model together (a few dozen pairs however many rows)
    and the pairs are added up here, exactly. The cost report needs both; a second
    scan of its window was a third of its time on PostgreSQL (measured)."""
    agents: dict[str, Sums] = {}
    models: dict[str, Sums] = {}
    for row in await session.execute(agent_model_statement(start, end)):
        sums = _sums(row)
        agents[row.agent_type] = agents.get(row.agent_type, Sums()) + sums
        model = f"{row.provider}/{row.model}"
        models[model] = models.get(model, Sums()) + sums
    return (
        [Group(key, sums) for key, sums in agents.items()],
        [Group(key, sums) for key, sums in models.items()],
    )


def agent_model_statement(start: dt.datetime | None, end: dt.datetime | None) -> Select[Any]:
    """Spend in ``[start, end)`` per agent and model pair: over a window, one index-only
    range of ``ix_cost_records_created_at_groups`` (checked in the tests)."""
    keys = [_COSTS.c.agent_type, _COSTS.c.provider, _COSTS.c.model]
    return select(*keys, *_sums_columns()).where(*_within(start, end)).group_by(*keys)


def _task_key(task_id: uuid.UUID | None) -> str:
    return DELETED_TASK if task_id is None else str(task_id)


async def by_period(
    session: AsyncSession,
    period: Period,
    tz: dt.tzinfo,
    *,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> list[Group]:
    """Spend in ``[start, end)`` per local day, ISO week or month in ``tz``, oldest first;
    only periods with rows. The periods span the first to the last row in the window (two
    index lookups), so a ``start`` far in the past costs nothing.

    One statement: the periods' UTC bounds (clamped to the rows' span) as a ``VALUES``
    CTE, joined to the rows on ``period_start <= created_at < period_end`` and grouped
    by period. Both dialects answer it with one index range scan per period on
    ``ix_cost_records_created_at_sums`` (index only) and no expression per row: 3x to
    4x faster than ``GROUP BY date_trunc(…, created_at AT TIME ZONE …)`` on PostgreSQL,
    and exact in every zone (``benchmarks/ledger.py``)."""
    window = _within(start, end)
    first, last = (
        await session.execute(
            select(
                select(func.min(_created)).where(*window).scalar_subquery(),
                select(func.max(_created)).where(*window).scalar_subquery(),
            )
        )
    ).one()
    if first is None:
        return []
    start, end = first, last + _ONE_MICROSECOND
    buckets = covering(period, start, end, tz, limit=MAX_BUCKETS)
    _refuse_too_many(period, buckets, start, end)
    grouped = by_period_statement(buckets, start, end)
    async with _without_jit(session):
        rows = sorted((row.i, _sums(row)) for row in await session.execute(grouped))
    return [Group(buckets[i].key, sums) for i, sums in rows]


def by_period_statement(
    periods: Sequence[Bounds], start: dt.datetime, end: dt.datetime
) -> Select[Any]:
    """The sums of the rows in ``[start, end)`` per period, keyed ``i`` (the period's index
    in ``periods``), from the periods' bounds as a ``VALUES`` CTE joined on ``created_at``
    ranges (:func:`by_period`). Checked in a PostgreSQL test to be index only."""
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


@contextlib.asynccontextmanager
async def _without_jit(session: AsyncSession) -> AsyncIterator[None]:
    """PostgreSQL only: no JIT compilation for the statements inside.

    The one place the dialects differ. PostgreSQL cannot estimate a range join: it takes
    a ninth of the table for each period, so a year of days over a million rows is
    costed as 40 M and compiled with LLVM inlining and optimisation, 0.2 s in a new
    connection for a query that runs in 0.1 s (measured). A read session is in
    autocommit, so the setting is set and reset rather than ``SET LOCAL``.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    await session.execute(text("SET jit = off"))
    try:
        yield
    finally:
        await session.execute(text("RESET jit"))


def _refuse_too_many(
    period: Period, buckets: list[Bounds], start: dt.datetime, end: dt.datetime
) -> None:
    if len(buckets) > MAX_BUCKETS:
        raise InvalidRequestError(
            f"grouping by {period} from {start:%Y-%m-%d} to {end:%Y-%m-%d} makes more than "
            f"{MAX_BUCKETS} groups; allowed: at most {MAX_BUCKETS} (group by a longer period "
            "or start later)",
            details={"field": "by", "value": period},
        )


def in_periods_statement(periods: Sequence[Bounds]) -> Select[Any]:
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
    span = _within(min(p.start for p in periods), max(p.end for p in periods))
    return select(*columns).where(*span)


async def in_periods(
    session: AsyncSession, periods: Sequence[Bounds]
) -> list[tuple[Decimal, int, int]]:
    """``(USD, calls, unpriced calls)`` in each period: what the budget check reads before
    every new lifecycle. It costs what the period's rows cost, however long the ledger."""
    if not periods:
        return []
    row = (await session.execute(in_periods_statement(periods))).one()
    return [(usd_from_e10(row[i]), int(row[i + 1]), int(row[i + 2])) for i in range(0, len(row), 3)]


__all__ = [
    "DELETED_TASK",
    "MAX_BUCKETS",
    "Group",
    "KeyGrouping",
    "Sums",
    "by_agent_and_model",
    "by_key",
    "by_period",
    "by_period_statement",
    "in_periods",
    "in_periods_statement",
]
