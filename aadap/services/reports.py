"""The cost report: spend by day, week and month, and by agent, model and task.

Time buckets are local to ``settings.timezone`` (a row at 23:30 UTC belongs to
the next day in Europe/Paris). The window runs from the start of the local
month ``months - 1`` months back up to ``now``, so month figures are whole
months; the first week may be partial. The database sums and groups
(:mod:`aadap.services.aggregates`): three grouped reads, by local day, by agent and
model together, and by task; weeks, months and the total are exact sums of the days,
agents and models exact sums of the agent-model pairs.

Also home to the clock rule every periodic service follows: time is injected
(``now``), it must be timezone-aware, ``None`` means the wall clock. The local-period
arithmetic lives in :mod:`aadap.services.periods` (re-exported here).
"""

from __future__ import annotations

import csv
import datetime as dt
import zoneinfo
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from aadap.core.config import Settings
from aadap.core.exceptions import InvalidRequestError
from aadap.db.session import Database
from aadap.db.types import utcnow
from aadap.services import aggregates
from aadap.services.periods import Bounds, Period, period_bounds, period_key, window_start

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
    end = now + dt.timedelta(microseconds=1)  # up to ``now`` inclusive (µs timestamps)
    async with db.sessions() as session:
        days = await aggregates.by_period(session, "day", tz, start=start, end=end)
        agents, models = await aggregates.by_agent_and_model(session, start=start, end=end)
        keyed: dict[aggregates.KeyGrouping, list[aggregates.Group]] = {
            "agent": agents,
            "model": models,
            "task": await aggregates.by_key(session, "task", start=start, end=end),
        }
    lines: dict[tuple[Grouping, str], CostLine] = {("total", "all"): _line("total", "all")}
    for day in days:
        date = dt.date.fromisoformat(day.key)
        in_time: tuple[tuple[Grouping, str], ...] = (
            ("total", "all"),
            ("day", day.key),
            ("week", period_key("week", date)),
            ("month", period_key("month", date)),
        )
        for grouping, key in in_time:
            _add(lines.setdefault((grouping, key), _line(grouping, key)), day.sums)
    for grouping, groups in keyed.items():
        for group in groups:
            line = _line(grouping, group.key, group.label)
            lines[(grouping, group.key)] = line
            _add(line, group.sums)
    return CostReport(
        generated_at=now,
        timezone=settings.timezone,
        report_date=now.astimezone(tz).date(),
        window_start=start,
        window_end=now,
        lines=_ordered(lines.values()),
    )


def _line(grouping: Grouping, key: str, label: str | None = None) -> CostLine:
    return CostLine(grouping=grouping, key=key, label=label)


def _add(line: CostLine, sums: aggregates.Sums) -> None:
    line.calls += sums.calls
    line.tokens_in += sums.tokens_in
    line.tokens_out += sums.tokens_out
    line.cost_usd += sums.cost_usd
    line.unpriced_calls += sums.unpriced_calls


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
