"""Budget watch: threshold rows once per period, and the hard limit that refuses new lifecycles."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aadap.core.config import BudgetSettings, Settings
from aadap.core.exceptions import CostBudgetExceededError, ErrorSeverity
from aadap.core.requests import TaskRequest
from aadap.db import models
from aadap.db.session import Database
from aadap.services import budget_watch, tasks
from tests import builders
from tests.conftest import settings_for

# 10:00 in Paris on Thursday 2025-03-20
NOW = dt.datetime(2025, 3, 20, 9, 0, tzinfo=dt.UTC)
DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


def settings(db: Database, tmp_path: Path, **budgets: Any) -> Settings:
    budgets.setdefault("daily_usd", Decimal("10"))
    budgets.setdefault("monthly_usd", Decimal("100"))
    return settings_for(
        db.engine.url.render_as_string(hide_password=False),
        tmp_path / "home",
        timezone="Europe/Paris",
        budgets=BudgetSettings(**budgets),
    )


async def spend(db: Database, usd: str, at: dt.datetime = NOW, **fields: Any) -> None:
    async with db.transaction() as session:
        session.add(builders.cost(None, cost_usd=Decimal(usd), created_at=at, **fields))


async def alerts(db: Database) -> list[models.TaskLog]:
    async with db.sessions() as session:
        rows = await session.execute(
            select(models.TaskLog)
            .where(models.TaskLog.event.in_(budget_watch.ALERT_EVENTS))
            .order_by(models.TaskLog.created_at, models.TaskLog.level.desc())
        )
        return list(rows.scalars())


def request(**fields: Any) -> TaskRequest:
    return TaskRequest.parse(
        {"text": f"load {DATA / 'orders.csv'} into orders", "working_dir": str(DATA), **fields}
    )


async def test_each_threshold_is_written_once_per_period(db: Database, tmp_path: Path) -> None:
    s = settings(db, tmp_path)
    await spend(db, "4.99")
    assert (await budget_watch.watch(db, s, now=NOW)).alerts == []

    await spend(db, "0.01")  # exactly 50 %
    first = await budget_watch.watch(db, s, now=NOW)
    assert [(a.period, a.threshold, a.level) for a in first.alerts] == [("daily", 50, "WARNING")]
    again = await budget_watch.watch(db, s, now=NOW + dt.timedelta(minutes=5))
    assert again.alerts == []  # idempotent across runs

    await spend(db, "3.70")  # 87 % of the day: 80 % crossed
    crossed = await budget_watch.watch(db, s, now=NOW + dt.timedelta(minutes=10))
    assert [(a.threshold, a.level) for a in crossed.alerts] == [(80, "ERROR")]

    rows = await alerts(db)
    assert [(r.level, r.event, r.details["threshold"]) for r in rows] == [
        ("WARNING", "budget.threshold", 50),
        ("ERROR", "budget.threshold", 80),
    ]
    warning = rows[0]
    assert warning.task_id is None
    assert warning.correlation_id == "budget:daily:2025-03-20"
    assert warning.source == "budget-watch"
    assert Decimal(warning.details.pop("spend")) == Decimal(5)  # trailing zeros vary by backend
    assert warning.details == {
        "period": "daily",
        "period_key": "2025-03-20",
        "threshold": 50,
        "percent": "50.00",
        "limit": "10",
        "hard_limit": "10",
        "timezone": "Europe/Paris",
    }
    assert "50% crossed" in warning.message and "$5.00 of the $10.00 budget" in warning.message


async def test_crossing_several_thresholds_at_once_and_the_hard_limit(
    db: Database, tmp_path: Path
) -> None:
    s = settings(db, tmp_path)
    await spend(db, "10.20")
    status = await budget_watch.watch(db, s, now=NOW)
    assert [(a.event, a.threshold, a.level) for a in status.alerts] == [
        ("budget.threshold", 50, "WARNING"),
        ("budget.threshold", 80, "ERROR"),
        ("budget.threshold", 100, "ERROR"),
        ("budget.hard_limit", 100, "CRITICAL"),
    ]
    assert status.refusing_new_tasks
    daily, monthly = status.periods
    assert (daily.percent, monthly.percent) == (Decimal("102.00"), Decimal("10.20"))
    hard = status.alerts[-1]
    assert "new lifecycles are refused" in hard.message
    assert "2025-03-21T00:00+01:00" in hard.message  # when the local day rolls over
    assert {a.log_id for a in status.alerts} == {r.id for r in await alerts(db)}


async def test_a_new_day_starts_over_while_the_month_keeps_counting(
    db: Database, tmp_path: Path
) -> None:
    s = settings(db, tmp_path, daily_usd=Decimal("40"))
    for day in range(3):
        await spend(db, "30", at=NOW + dt.timedelta(days=day))
        status = await budget_watch.watch(db, s, now=NOW + dt.timedelta(days=day))
        got = [(a.period, a.period_key, a.threshold) for a in status.alerts]
        key = f"2025-03-{20 + day}"
        expected_month = {0: [], 1: [("monthly", "2025-03", 50)], 2: [("monthly", "2025-03", 80)]}
        assert got == [("daily", key, 50), *expected_month[day]]


async def test_spend_is_bucketed_in_local_time(db: Database, tmp_path: Path) -> None:
    s = settings(db, tmp_path)
    # 23:30 UTC on the 19th is 00:30 on the 20th in Paris: today's spend, not yesterday's
    await spend(db, "6", at=dt.datetime(2025, 3, 19, 23, 30, tzinfo=dt.UTC))
    await spend(db, "100", at=dt.datetime(2025, 3, 19, 22, 30, tzinfo=dt.UTC))  # the 19th
    daily, monthly = await budget_watch.spend(db, s, now=NOW)
    assert (daily.key, daily.spend_usd, daily.calls) == ("2025-03-20", Decimal(6), 1)
    assert monthly.spend_usd == Decimal(106)


async def test_unpriced_calls_are_counted_not_added(db: Database, tmp_path: Path) -> None:
    s = settings(db, tmp_path)
    await spend(db, "1")
    async with db.transaction() as session:
        session.add(builders.cost(None, cost_usd=None, created_at=NOW))
    daily, _ = await budget_watch.spend(db, s, now=NOW)
    assert (daily.spend_usd, daily.calls, daily.unpriced_calls) == (Decimal(1), 2, 1)


async def test_hard_limit_refuses_new_lifecycles_until_the_day_rolls_over(
    db: Database, tmp_path: Path
) -> None:
    s = settings(db, tmp_path)
    kept, created = await tasks.create(db, s, request(idempotency_key="nightly-1"), now=NOW)
    assert created
    await spend(db, "9.99")
    _, created = await tasks.create(db, s, request(), now=NOW)  # 99.9 %: still allowed
    assert created
    await spend(db, "0.01")

    with pytest.raises(CostBudgetExceededError) as refused:
        await tasks.create(db, s, request(), now=NOW)
    error = refused.value
    assert error.severity is ErrorSeverity.CRITICAL
    assert error.error_code == "COST_BUDGET_EXCEEDED"
    message = str(error)
    for part in (
        "new lifecycles are refused",
        "daily spend $10.00",
        "hard limit $10.00",
        "AADAP_BUDGETS_DAILY_USD",
        "rolls over at 2025-03-21T00:00+01:00 (Europe/Paris)",
        "the limit is raised",
    ):
        assert part in message
    assert error.details["period"] == "daily"
    assert Decimal(error.details["spend"]) == Decimal(error.details["limit"]) == Decimal(10)

    # an idempotent re-submit of an existing task is not a new lifecycle
    again, created = await tasks.create(db, s, request(idempotency_key="nightly-1"), now=NOW)
    assert (again.id, created) == (kept.id, False)
    async with db.sessions() as session:
        assert len((await session.execute(select(models.Task))).all()) == 2

    # a minute after local midnight the day's spend starts from zero
    tomorrow = dt.datetime(2025, 3, 20, 23, 1, tzinfo=dt.UTC)
    _, created = await tasks.create(db, s, request(), now=tomorrow)
    assert created
    # ... and raising the limit lifts the refusal the same day
    raised = settings(db, tmp_path, daily_usd=Decimal("20"))
    _, created = await tasks.create(db, raised, request(), now=NOW)
    assert created


async def test_monthly_hard_limit_lifts_with_the_month_and_honours_the_percent(
    db: Database, tmp_path: Path
) -> None:
    s = settings(db, tmp_path, daily_usd=None, monthly_usd=Decimal("50"), hard_limit_percent=120)
    await spend(db, "59.99", at=NOW - dt.timedelta(days=10))
    await budget_watch.ensure_spend_allows_new_task(db, s, now=NOW)  # 119.98 % < 120 %
    await spend(db, "0.01", at=NOW - dt.timedelta(days=10))
    with pytest.raises(CostBudgetExceededError, match="monthly spend") as refused:
        await budget_watch.ensure_spend_allows_new_task(db, s, now=NOW)
    assert "hard limit $60.00 (120% of AADAP_BUDGETS_MONTHLY_USD" in str(refused.value)
    assert "month rolls over at 2025-04-01T00:00+02:00" in str(refused.value)
    with pytest.raises(CostBudgetExceededError):  # still March in Paris
        await budget_watch.ensure_spend_allows_new_task(
            db, s, now=dt.datetime(2025, 3, 31, 21, 59, tzinfo=dt.UTC)
        )
    await budget_watch.ensure_spend_allows_new_task(
        db, s, now=dt.datetime(2025, 3, 31, 22, 0, tzinfo=dt.UTC)
    )


async def test_without_budgets_nothing_is_checked_or_written(db: Database, tmp_path: Path) -> None:
    s = settings(db, tmp_path, daily_usd=None, monthly_usd=None)
    await spend(db, "1000")
    await budget_watch.ensure_spend_allows_new_task(db, s, now=NOW)
    status = await budget_watch.watch(db, s, now=NOW)
    assert status.alerts == [] and not status.refusing_new_tasks
    assert [p.percent for p in status.periods] == [None, None]


async def test_a_zero_budget_allows_no_spend(db: Database, tmp_path: Path) -> None:
    s = settings(db, tmp_path, daily_usd=Decimal("0"), monthly_usd=None)
    with pytest.raises(CostBudgetExceededError, match=r"\$0.00 budget"):
        await budget_watch.ensure_spend_allows_new_task(db, s, now=NOW)
    status = await budget_watch.watch(db, s, now=NOW)
    assert [a.event for a in status.alerts] == ["budget.hard_limit"]  # no spend, no threshold
    await spend(db, "0.0000000001")
    status = await budget_watch.watch(db, s, now=NOW)
    assert [a.threshold for a in status.alerts] == [50, 80, 100]
