"""Daily and monthly spend against ``budgets.daily_usd`` / ``budgets.monthly_usd`` (COST-04).

Periods are local calendar days and months in ``settings.timezone``. Spend is
every ``cost_records`` row created in the period (failed and orphaned attempts
cost money too; unpriced calls are counted but add nothing).

:func:`watch` writes one ``task_logs`` row per threshold a period has crossed
(50 % WARNING, 80 % and 100 % ERROR, and a CRITICAL row at the hard limit,
``hard_limit_percent`` of the budget, from which new lifecycles are refused).
Each row's ``correlation_id`` names the period (``budget:daily:2025-03-14``), so
a threshold is written once per period however often the watch runs; the
orchestration layer emits one Prefect event per new row.

:func:`ensure_spend_allows_new_task` is the gate ``tasks.create`` calls: at or
above a hard limit it raises ``CostBudgetExceededError`` until the period rolls
over or the limit is raised. A budget of 0 means "no spend allowed": every
threshold counts as crossed by any spend, and new lifecycles are refused.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from aadap.core.config import Settings
from aadap.core.enums import LogLevel
from aadap.core.exceptions import CostBudgetExceededError
from aadap.db.models import TaskLog
from aadap.db.repos import log_repo
from aadap.db.session import Database
from aadap.services import aggregates, logs
from aadap.services.periods import period_bounds
from aadap.services.reports import resolve_now, usd, zone

BudgetPeriod = Literal["daily", "monthly"]
PERIODS: tuple[BudgetPeriod, ...] = ("daily", "monthly")
THRESHOLDS: tuple[int, ...] = (50, 80, 100)
THRESHOLD_EVENT = "budget.threshold"
HARD_LIMIT_EVENT = "budget.hard_limit"
ALERT_EVENTS: tuple[str, ...] = (THRESHOLD_EVENT, HARD_LIMIT_EVENT)
#: Alert rows must outlive the longest period, or a month's alert would be written again.
KEEP_ALERTS_FOR = dt.timedelta(days=32)
SOURCE = "budget-watch"

_ENV = {"daily": "AADAP_BUDGETS_DAILY_USD", "monthly": "AADAP_BUDGETS_MONTHLY_USD"}
_CENT = Decimal("0.01")


class PeriodSpend(BaseModel):
    """Spend in the current local day or month, against its budget (``None``: no budget set)."""

    period: BudgetPeriod
    key: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    spend_usd: Decimal
    calls: int
    unpriced_calls: int
    limit_usd: Decimal | None
    hard_limit_percent: int
    hard_limit_usd: Decimal | None
    percent: Decimal | None

    @property
    def refuses_new_tasks(self) -> bool:
        return self.hard_limit_usd is not None and self.spend_usd >= self.hard_limit_usd

    def crossed(self, threshold: int) -> bool:
        if self.limit_usd is None:
            return False
        if self.limit_usd == 0:
            return self.spend_usd > 0
        return self.spend_usd * 100 >= self.limit_usd * threshold

    @property
    def correlation_id(self) -> str:
        return f"budget:{self.period}:{self.key}"


class Alert(BaseModel):
    """One threshold row written by :func:`watch` (what the Prefect event reports)."""

    log_id: uuid.UUID
    event: str
    level: LogLevel
    period: BudgetPeriod
    period_key: str
    threshold: int
    percent: Decimal | None
    spend_usd: Decimal
    limit_usd: Decimal
    hard_limit_usd: Decimal
    message: str


class BudgetStatus(BaseModel):
    checked_at: dt.datetime
    timezone: str
    periods: list[PeriodSpend]
    alerts: list[Alert]

    @property
    def refusing_new_tasks(self) -> bool:
        return any(p.refuses_new_tasks for p in self.periods)


def _limit(settings: Settings, period: BudgetPeriod) -> Decimal | None:
    return settings.budgets.daily_usd if period == "daily" else settings.budgets.monthly_usd


def _percent(spend: Decimal, limit: Decimal | None) -> Decimal | None:
    if limit is None or limit == 0:
        return None
    return (spend * 100 / limit).quantize(_CENT)


async def spend(
    db: Database,
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    periods: tuple[BudgetPeriod, ...] = PERIODS,
) -> list[PeriodSpend]:
    """The current local day's and month's spend, each against its budget: one indexed
    aggregate over the period (:func:`aadap.services.aggregates.in_periods`)."""
    now = resolve_now(now)
    tz = zone(settings)
    hard = settings.budgets.hard_limit_percent
    bounds = [period_bounds("day" if p == "daily" else "month", now, tz) for p in periods]
    async with db.sessions() as session:
        sums = await aggregates.in_periods(session, bounds)
    result = []
    for period, b, (total, calls, unpriced) in zip(periods, bounds, sums, strict=True):
        limit = _limit(settings, period)
        result.append(
            PeriodSpend(
                period=period,
                key=b.key,
                starts_at=b.start,
                ends_at=b.end,
                spend_usd=total,
                calls=calls,
                unpriced_calls=unpriced,
                limit_usd=limit,
                hard_limit_percent=hard,
                hard_limit_usd=None if limit is None else limit * hard / 100,
                percent=_percent(total, limit),
            )
        )
    return result


def _describe(p: PeriodSpend) -> str:
    assert p.limit_usd is not None
    share = "" if p.percent is None else f" ({p.percent}%)"
    return (
        f"{p.period} spend {usd(p.spend_usd)} of the {usd(p.limit_usd)} budget{share} for {p.key}"
    )


def _resets_at(p: PeriodSpend, settings: Settings) -> str:
    return p.ends_at.astimezone(zone(settings)).isoformat(timespec="minutes")


def _alert_row(
    p: PeriodSpend, settings: Settings, *, threshold: int, hard: bool, now: dt.datetime
) -> TaskLog:
    assert p.limit_usd is not None and p.hard_limit_usd is not None
    if hard:
        event, level = HARD_LIMIT_EVENT, LogLevel.CRITICAL
        message = (
            f"hard limit reached: {_describe(p)} is at or above {usd(p.hard_limit_usd)} "
            f"({p.hard_limit_percent}% of the budget); new lifecycles are refused until the period "
            f"rolls over at {_resets_at(p, settings)} ({settings.timezone}) or the limit is raised"
        )
    else:
        event = THRESHOLD_EVENT
        level = LogLevel.WARNING if threshold < 80 else LogLevel.ERROR
        message = f"budget threshold {threshold}% crossed: {_describe(p)}"
    return logs.build(
        level=level,
        event=event,
        message=message,
        source=SOURCE,
        correlation_id=p.correlation_id,
        created_at=now,
        details={
            "period": p.period,
            "period_key": p.key,
            "threshold": threshold,
            "percent": None if p.percent is None else str(p.percent),
            "spend": str(p.spend_usd),
            "limit": str(p.limit_usd),
            "hard_limit": str(p.hard_limit_usd),
            "timezone": settings.timezone,
        },
    )


async def _recorded(db: Database, correlation_ids: list[str]) -> set[tuple[str, str, int]]:
    """``(correlation_id, event, threshold)`` of the alerts already written for these periods."""
    async with db.sessions() as session:
        rows = await log_repo.list_events(
            session, correlation_ids=correlation_ids, events=ALERT_EVENTS
        )
    return {(str(r.correlation_id), r.event, int(r.details["threshold"])) for r in rows}


async def watch(
    db: Database, settings: Settings, *, now: dt.datetime | None = None
) -> BudgetStatus:
    """Check both periods and write a row for each threshold newly crossed in this period."""
    now = resolve_now(now)
    periods = await spend(db, settings, now=now)
    budgeted = [p for p in periods if p.limit_usd is not None]
    done = await _recorded(db, [p.correlation_id for p in budgeted])
    rows: list[TaskLog] = []
    for p in budgeted:
        for threshold in THRESHOLDS:
            if p.crossed(threshold) and (p.correlation_id, THRESHOLD_EVENT, threshold) not in done:
                rows.append(_alert_row(p, settings, threshold=threshold, hard=False, now=now))
        marker = (p.correlation_id, HARD_LIMIT_EVENT, p.hard_limit_percent)
        if p.refuses_new_tasks and marker not in done:
            rows.append(_alert_row(p, settings, threshold=p.hard_limit_percent, hard=True, now=now))
    if rows:
        async with db.transaction() as session:
            await log_repo.add_logs(session, logs=rows)
    by_key = {p.correlation_id: p for p in budgeted}
    alerts = [_alert(row, by_key[str(row.correlation_id)]) for row in rows]
    return BudgetStatus(checked_at=now, timezone=settings.timezone, periods=periods, alerts=alerts)


def _alert(row: TaskLog, p: PeriodSpend) -> Alert:
    assert p.limit_usd is not None and p.hard_limit_usd is not None
    return Alert(
        log_id=row.id,
        event=row.event,
        level=LogLevel(row.level),
        period=p.period,
        period_key=p.key,
        threshold=int(row.details["threshold"]),
        percent=p.percent,
        spend_usd=p.spend_usd,
        limit_usd=p.limit_usd,
        hard_limit_usd=p.hard_limit_usd,
        message=row.message,
    )


async def ensure_spend_allows_new_task(
    db: Database, settings: Settings, *, now: dt.datetime | None = None
) -> None:
    """Raise ``CostBudgetExceededError`` (CRITICAL) when a period's spend is at its hard limit."""
    wanted = tuple(period for period in PERIODS if _limit(settings, period) is not None)
    if not wanted:
        return
    for p in await spend(db, settings, now=now, periods=wanted):
        if not p.refuses_new_tasks:
            continue
        assert p.hard_limit_usd is not None and p.limit_usd is not None
        unit = "day" if p.period == "daily" else "month"
        raise CostBudgetExceededError(
            f"new lifecycles are refused: {_describe(p)} has reached the hard limit "
            f"{usd(p.hard_limit_usd)} ({p.hard_limit_percent}% of {_ENV[p.period]}, "
            f"AADAP_BUDGETS_HARD_LIMIT_PERCENT={p.hard_limit_percent}). This lifts when the {unit} "
            f"rolls over at {_resets_at(p, settings)} ({settings.timezone}) or when the limit is raised.",
            details={
                "period": p.period,
                "period_key": p.key,
                "spend": str(p.spend_usd),
                "limit": str(p.limit_usd),
                "hard_limit": str(p.hard_limit_usd),
                "hard_limit_percent": p.hard_limit_percent,
                "resets_at": p.ends_at.isoformat(),
                "timezone": settings.timezone,
            },
        )


__all__ = [
    "ALERT_EVENTS",
    "HARD_LIMIT_EVENT",
    "KEEP_ALERTS_FOR",
    "PERIODS",
    "THRESHOLDS",
    "THRESHOLD_EVENT",
    "Alert",
    "BudgetPeriod",
    "BudgetStatus",
    "PeriodSpend",
    "ensure_spend_allows_new_task",
    "spend",
    "watch",
]
