"""Spend summed and grouped by the database: by agent, model or task, by local day, week
or month, and over budget periods. Only the grouped rows come back.

Amounts are ``cost_records.cost_usd_e10`` integers (:class:`~aadap.db.types.UsdE10`),
which both dialects ``SUM`` exactly; a sum comes back as an exact ``Decimal``.

Time buckets follow a time zone, including the days its clocks change: the database
groups by the local start date of each row's period (:func:`_period_start`, the one
dialect difference: PostgreSQL has ``date_trunc(… AT TIME ZONE …)``, SQLite has no time
zones and searches the window's period boundaries, computed here).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    func,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.exceptions import InvalidRequestError
from aadap.db.models import CostRecord, Task
from aadap.db.types import usd_from_e10
from aadap.services.periods import Bounds, Period, covering, period_key

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


def _task_key(task_id: uuid.UUID | None) -> str:
    return DELETED_TASK if task_id is None else str(task_id)


def _period_start(
    dialect: str, period: Period, tz: dt.tzinfo, buckets: Sequence[Bounds]
) -> ColumnElement[Any]:
    """The local start of each row's period (a local timestamp on PostgreSQL, the date as
    ``YYYY-MM-DD`` on SQLite: :func:`_as_date` reads both): the one place the dialects
    differ, because SQLite has no time zones.

    PostgreSQL: ``date_trunc(period, created_at AT TIME ZONE tz)``, its own calendar.
    SQLite: a binary search over the UTC start instants of ``buckets`` (the periods of the
    window, computed with ``zoneinfo``), a balanced tree of ``CASE`` of ~log2(periods)
    comparisons a row. On PostgreSQL that tree would be slower: a million rows make the
    planner JIT-compile the expression, seconds for a year of days (measured).
    """
    if dialect == "postgresql":
        return func.date_trunc(period, func.timezone(_zone_name(tz), _created))
    return _search([b.start for b in buckets], [b.first_day for b in buckets], 0, len(buckets))


def _search(
    starts: Sequence[dt.datetime], days: Sequence[dt.date], lo: int, hi: int
) -> ColumnElement[str]:
    """``days[i]`` for the ``i`` in ``[lo, hi)`` with ``starts[i] <= created_at <
    starts[i + 1]`` (the row is known to be at or after ``starts[lo]``)."""
    if hi - lo == 1:
        return literal_column(f"'{days[lo].isoformat()}'")  # a date we made: no quoting issue
    mid = (lo + hi) // 2
    return case(
        (_created < starts[mid], _search(starts, days, lo, mid)),
        else_=_search(starts, days, mid, hi),
    )


def _zone_name(tz: dt.tzinfo) -> str:
    if isinstance(tz, zoneinfo.ZoneInfo):
        return tz.key
    if tz is dt.UTC:
        return "UTC"
    raise InvalidRequestError(
        f"timezone={tz!r} is not valid; allowed: an IANA time zone name such as Europe/Paris",
        details={"field": "timezone"},
    )


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
    index lookups), so a ``start`` far in the past costs nothing."""
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
    dialect = session.get_bind().dialect.name
    bucket = _period_start(dialect, period, tz, buckets).label("bucket")
    rows_in = (
        select(bucket, _COSTS.c.tokens_in, _COSTS.c.tokens_out, _amount)
        .where(*_within(start, end))
        .subquery()
    )
    grouped = select(rows_in.c.bucket, *_sums_columns(rows_in.c)).group_by(rows_in.c.bucket)
    rows = [(_as_date(row.bucket), _sums(row)) for row in await session.execute(grouped)]
    rows.sort(key=lambda pair: pair[0])
    return [Group(period_key(period, day), sums) for day, sums in rows]


def _as_date(start: dt.datetime | str) -> dt.date:
    return start.date() if isinstance(start, dt.datetime) else dt.date.fromisoformat(start)


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
    ``ix_cost_records_created_at_cost`` alone (an index-only scan, checked in the tests)."""
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
    "by_key",
    "by_period",
    "in_periods",
    "in_periods_statement",
]
