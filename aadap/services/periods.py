"""Local calendar periods (day, ISO week, month) as half-open UTC intervals.

A period starts at local midnight in the configured time zone, so a day is 23 or 25
hours long when the clocks change and every UTC instant belongs to exactly one period.
The cost report, ``aadap costs`` and the budget watch bucket time with these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Period = Literal["day", "week", "month"]


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
    first_day: dt.date  # the local date the period starts on


def local_midnight(day: dt.date, tz: dt.tzinfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


def add_months(day: dt.date, months: int) -> dt.date:
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
        after = add_months(first, 1)
    return Bounds(
        period,
        period_key(period, today),
        local_midnight(first, tz),
        local_midnight(after, tz),
        first,
    )


def covering(
    period: Period, start: dt.datetime, end: dt.datetime, tz: dt.tzinfo, *, limit: int
) -> list[Bounds]:
    """The consecutive local periods that meet ``[start, end)``, oldest first; at most
    ``limit + 1`` of them (more than ``limit``: the caller refuses the span)."""
    found = [period_bounds(period, start, tz)]
    while found[-1].end < end and len(found) <= limit:
        found.append(period_bounds(period, found[-1].end, tz))
    return found


def window_start(now: dt.datetime, tz: dt.tzinfo, months: int) -> dt.datetime:
    """Local midnight on the first day of the month ``months - 1`` months before ``now``'s."""
    first = now.astimezone(tz).date().replace(day=1)
    return local_midnight(add_months(first, -(months - 1)), tz)


__all__ = [
    "Bounds",
    "Period",
    "add_months",
    "covering",
    "local_midnight",
    "period_bounds",
    "period_key",
    "window_start",
]
