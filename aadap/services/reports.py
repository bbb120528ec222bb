"""The cost report: spend by day, week and month, and by agent, model and task.

Time buckets are local to ``settings.timezone`` (a row at 23:30 UTC belongs to
the next day in Europe/Paris). The window runs from the start of the local
month ``months - 1`` months back up to ``now``, so month figures are whole
months; the first week may be partial. Sums are exact ``Decimal`` additions in
Python, so SQLite (which stores decimals as text) and PostgreSQL agree.

Also home to the local-period arithmetic the budget watch shares
(:func:`period_bounds`) and the clock rule every periodic service follows:
time is injected (``now``), it must be timezone-aware, ``None`` means the wall
clock.
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import select

from aadap.core.config import Settings
from aadap.core.exceptions import InvalidRequestError
from aadap.db.models import CostRecord, Task
from aadap.db.session import Database
from aadap.db.types import utcnow

Period = Literal["day", "week", "month"]
Grouping = Literal["total", "day", "week", "month", "agent", "model", "task"]
GROUPINGS: tuple[Grouping, ...] = ("total", "day", "week", "month", "agent", "model", "task")
CSV_COLUMNS = (
    "grouping",
    "key",
    "label",
    "calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "unpriced_calls",
)
MAX_MONTHS = 36
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# --- time ---------------------------------------------------------------------------


def resolve_now(now: dt.datetime | None, *, field: str = "now") -> dt.datetime:
    """``now`` in UTC; the wall clock when ``None``. A naive datetime is refused."""
    if now is None:
        return utcnow()
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidRequestError(
            f"{field}={now.isoformat()!r} has no time zone; pass an aware time such as "
            f"{now.isoformat()}+00:00",
            details={"field": field},
        )
    return now.astimezone(dt.UTC)


def zone(settings: Settings) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.timezone)


def period_key(period: Period, local: dt.datetime | dt.date) -> str:
    """``2025-03-14`` (day), ``2025-W11`` (ISO week) or ``2025-03`` (month)."""
    day = local.date() if isinstance(local, dt.datetime) else local
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


@dataclass(frozen=True)
class Bounds:
    """One local calendar period as a half-open UTC interval ``[start, end)``."""

    period: Period
    key: str
    start: dt.datetime
    end: dt.datetime


def _local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + (day.month - 1) + months
    return dt.date(index // 12, index % 12 + 1, 1)


def period_bounds(period: Period, now: dt.datetime, tz: dt.tzinfo) -> Bounds:
    """The local day, ISO week or month containing ``now`` (DST-safe: local midnights)."""
    today = now.astimezone(tz).date()
    if period == "day":
        first, after = today, today + dt.timedelta(days=1)
    elif period == "week":
        first = today - dt.timedelta(days=today.weekday())
        after = first + dt.timedelta(days=7)
    else:
        first = today.replace(day=1)
        after = _add_months(first, 1)
    return Bounds(
        period, period_key(period, today), _local_midnight(first, tz), _local_midnight(after, tz)
    )


def window_start(now: dt.datetime, tz: dt.tzinfo, months: int) -> dt.datetime:
    """Local midnight on the first day of the month ``months - 1`` months before ``now``'s."""
    first = now.astimezone(tz).date().replace(day=1)
    return _local_midnight(_add_months(first, -(months - 1)), tz)


def usd(value: Decimal) -> str:
    """``$12.50``, ``$0.0001234567``: exact, trailing zeros trimmed to at least cents."""
    text = format(value.normalize(), "f")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"


# --- the report ---------------------------------------------------------------------


class CostLine(BaseModel):
    """One row of the report: spend for one key of one grouping."""

    grouping: Grouping
    key: str
    label: str | None = None
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal = Decimal(0)
    unpriced_calls: int = 0


class CostReport(BaseModel):
    generated_at: dt.datetime
    timezone: str
    report_date: dt.date
    window_start: dt.datetime
    window_end: dt.datetime
    lines: list[CostLine]

    def group(self, grouping: Grouping) -> list[CostLine]:
        return [line for line in self.lines if line.grouping == grouping]

    def line(self, grouping: Grouping, key: str) -> CostLine | None:
        return next((x for x in self.lines if x.grouping == grouping and x.key == key), None)

    @property
    def total(self) -> CostLine:
        found = self.line("total", "all")
        assert found is not None  # build() always adds it
        return found

    def spend_in(self, period: Period) -> Decimal:
        """Spend in the local day, week or month of ``generated_at`` (to date)."""
        key = period_key(period, self.generated_at.astimezone(zoneinfo.ZoneInfo(self.timezone)))
        found = self.line(period, key)
        return Decimal(0) if found is None else found.cost_usd


def _task_key(task_id: uuid.UUID | None) -> str:
    return str(task_id) if task_id else "(deleted task)"


async def build(
    db: Database, settings: Settings, *, now: dt.datetime | None = None, months: int = 3
) -> CostReport:
    """Aggregate ``cost_records`` created in ``[window_start, now]``."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidRequestError(
            f"months={months!r} is not valid; allowed: 1..{MAX_MONTHS}",
            details={"field": "months", "value": months},
        )
    now = resolve_now(now)
    tz = zone(settings)
    start = window_start(now, tz, months)
    stmt = (
        select(
            CostRecord.created_at,
            CostRecord.agent_type,
            CostRecord.provider,
            CostRecord.model,
            CostRecord.task_id,
            CostRecord.tokens_in,
            CostRecord.tokens_out,
            CostRecord.cost_usd,
            Task.title,
        )
        .outerjoin(Task, Task.id == CostRecord.task_id)
        .where(CostRecord.created_at >= start, CostRecord.created_at <= now)
    )
    lines: dict[tuple[Grouping, str], CostLine] = {}
    async with db.sessions() as session:
        rows = (await session.execute(stmt)).all()
    for created_at, agent, provider, model, task_id, tokens_in, tokens_out, cost, title in rows:
        local = created_at.astimezone(tz)
        keys: list[tuple[Grouping, str, str | None]] = [
            ("total", "all", None),
            ("day", period_key("day", local), None),
            ("week", period_key("week", local), None),
            ("month", period_key("month", local), None),
            ("agent", agent, None),
            ("model", f"{provider}/{model}", None),
            ("task", _task_key(task_id), title),
        ]
        for grouping, key, label in keys:
            entry = lines.setdefault(
                (grouping, key), CostLine(grouping=grouping, key=key, label=label)
            )
            entry.calls += 1
            entry.tokens_in += tokens_in
            entry.tokens_out += tokens_out
            if cost is None:
                entry.unpriced_calls += 1
            else:
                entry.cost_usd += cost
    lines.setdefault(("total", "all"), CostLine(grouping="total", key="all"))
    return CostReport(
        generated_at=now,
        timezone=settings.timezone,
        report_date=now.astimezone(tz).date(),
        window_start=start,
        window_end=now,
        lines=_ordered(lines.values()),
    )


def _ordered(lines: Iterable[CostLine]) -> list[CostLine]:
    """Groupings in :data:`GROUPINGS` order; time by key, the others by spend (largest first)."""
    rank = {g: i for i, g in enumerate(GROUPINGS)}

    def sort_key(line: CostLine) -> tuple[int, Decimal, str]:
        by_time = line.grouping in ("day", "week", "month")
        return (rank[line.grouping], Decimal(0) if by_time else -line.cost_usd, line.key)

    return sorted(lines, key=sort_key)


# --- CSV ----------------------------------------------------------------------------


def reports_dir(settings: Settings) -> Path:
    return settings.home / "reports"


def csv_path(directory: Path, report: CostReport) -> Path:
    return directory / f"cost-report-{report.report_date.isoformat()}.csv"


def _cell(text: str | None) -> str:
    """Task titles come from users: never let a spreadsheet read one as a formula."""
    if text and text.startswith(_FORMULA_PREFIXES):
        return "'" + text
    return text or ""


def write_csv(report: CostReport, directory: Path) -> Path:
    """Write ``cost-report-<local date>.csv`` (header row first) atomically; returns its path.

    Blocking file IO: async callers run it in a thread.
    """
    directory.mkdir(parents=True, exist_ok=True)
    path = csv_path(directory, report)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for line in report.lines:
            writer.writerow(
                [
                    line.grouping,
                    _cell(line.key),
                    _cell(line.label),
                    line.calls,
                    line.tokens_in,
                    line.tokens_out,
                    format(line.cost_usd, "f"),
                    line.unpriced_calls,
                ]
            )
    partial.replace(path)
    return path


__all__ = [
    "CSV_COLUMNS",
    "GROUPINGS",
    "Bounds",
    "CostLine",
    "CostReport",
    "Grouping",
    "Period",
    "build",
    "csv_path",
    "period_bounds",
    "period_key",
    "reports_dir",
    "resolve_now",
    "usd",
    "window_start",
    "write_csv",
    "zone",
]
