"""The cost report: figures equal SQL sums on PostgreSQL, local-time buckets, the CSV file."""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from aadap.core.config import Settings
from aadap.core.exceptions import InvalidRequestError
from aadap.db import models
from aadap.db.session import Database
from aadap.services import reports
from tests import builders
from tests.conftest import settings_for

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2025, 3, 20, 10, 0, tzinfo=dt.UTC)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def settings(db: Database, tmp_path: Path, zone: str = "Europe/Paris") -> Settings:
    url = db.engine.url.render_as_string(hide_password=False)
    return settings_for(url, tmp_path / "home", timezone=zone)


async def seed(db: Database) -> dict[str, models.Task]:
    """Rows across agents, models, tasks, weeks and months, with edge cases at the borders."""
    orders = builders.task(id=uuid.uuid4(), title="load orders")
    revenue = builders.task(
        id=uuid.uuid4(), title='=HYPERLINK("http://evil")'
    )  # a title a spreadsheet would run
    rows: list[Any] = []
    spec: list[tuple[models.Task | None, str, str, str | None, dt.datetime]] = [
        (orders, "parser", "gpt-4o-mini", "0.0001234567", at(2025, 1, 2, 9, 0)),
        (orders, "developer", "gpt-4o", "0.0450000001", at(2025, 2, 14, 12, 0)),
        (orders, "developer", "gpt-4o", "0.0450000001", at(2025, 2, 14, 12, 5)),
        (
            revenue,
            "reviewer",
            "gpt-4o-mini",
            "0.0020000000",
            at(2025, 3, 13, 23, 30),
        ),  # Paris: 14th
        (revenue, "developer", "gpt-4o", None, at(2025, 3, 16, 8, 0)),  # unpriced
        (None, "optimiser", "gpt-4o", "0.1000000000", at(2025, 3, 20, 9, 59)),  # task deleted
        (orders, "parser", "gpt-4o-mini", "0.0000000003", at(2024, 12, 31, 23, 30)),  # Jan 1 local
        (orders, "parser", "gpt-4o-mini", "7.0000000000", at(2024, 12, 31, 22, 30)),  # Dec: outside
        (orders, "parser", "gpt-4o-mini", "9.0000000000", at(2025, 3, 20, 10, 1)),  # after now
    ]
    for task, agent, model, cost, created in spec:
        rows.append(
            builders.cost(
                None if task is None else task.id,
                agent_type=agent,
                provider="openai",
                model=model,
                cost_usd=None if cost is None else Decimal(cost),
                tokens_in=len(agent) * 10,
                tokens_out=len(model),
                created_at=created,
            )
        )
    async with db.transaction() as session:
        session.add_all([orders, revenue])
        await session.flush()  # no ORM relationship orders the inserts: tasks first
        session.add_all(rows)
    return {"orders": orders, "revenue": revenue}


_SQL_KEYS = {
    "day": "to_char(created_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM-DD')",
    "week": "to_char(created_at AT TIME ZONE 'Europe/Paris', 'IYYY-\"W\"IW')",
    "month": "to_char(created_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM')",
    "agent": "agent_type",
    "model": "provider || '/' || model",
    "task": "coalesce(task_id::text, '(deleted task)')",
    "total": "'all'",
}


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_figures_equal_sql_sums_on_postgres(db: Database, tmp_path: Path) -> None:
    await seed(db)
    report = await reports.build(db, settings(db, tmp_path), now=NOW, months=3)
    start = dt.datetime(2025, 1, 1, tzinfo=PARIS)  # independent of the code under test
    assert report.window_start == start
    for grouping, key_sql in _SQL_KEYS.items():
        query = text(
            f"SELECT {key_sql} AS k, count(*), sum(tokens_in), sum(tokens_out), "
            "coalesce(sum(cost_usd_e10), 0) / 10000000000.0, count(*) FILTER (WHERE cost_usd_e10 IS NULL) "
            "FROM cost_records WHERE created_at >= :start AND created_at <= :now GROUP BY 1"
        )
        async with db.sessions() as session:
            expected = {
                row[0]: (row[1], row[2], row[3], Decimal(row[4]), row[5])
                for row in (await session.execute(query, {"start": start, "now": NOW})).all()
            }
        got = {
            line.key: (
                line.calls,
                line.tokens_in,
                line.tokens_out,
                line.cost_usd,
                line.unpriced_calls,
            )
            for line in report.group(grouping)  # type: ignore[arg-type]
        }
        assert got == expected, grouping
    assert report.total.cost_usd == Decimal("0.1921234572")  # exact: no float rounding anywhere
    assert report.total.calls == 7


async def test_time_buckets_follow_the_settings_time_zone(db: Database, tmp_path: Path) -> None:
    await seed(db)
    paris = await reports.build(db, settings(db, tmp_path), now=NOW)
    utc = await reports.build(db, settings(db, tmp_path, zone="UTC"), now=NOW)
    # 2025-03-13 23:30 UTC is 00:30 on the 14th in Paris
    assert paris.line("day", "2025-03-14") is not None
    assert paris.line("day", "2025-03-13") is None
    assert utc.line("day", "2025-03-13") is not None
    assert utc.line("day", "2025-03-14") is None
    # 2024-12-31 23:30 UTC is already January in Paris: inside the Paris window, not the UTC one
    assert [m.key for m in paris.group("month")] == ["2025-01", "2025-02", "2025-03"]
    assert paris.line("month", "2025-01").cost_usd == Decimal("0.0001234570")  # type: ignore[union-attr]
    assert utc.line("month", "2025-01").cost_usd == Decimal("0.0001234567")  # type: ignore[union-attr]
    assert paris.report_date == dt.date(2025, 3, 20)
    assert paris.spend_in("day") == Decimal("0.1")
    assert paris.spend_in("week") == Decimal("0.1")  # Monday 17th to now; the 16th is unpriced
    assert paris.spend_in("month") == Decimal("0.102")


async def test_groupings_label_tasks_and_order_lines(db: Database, tmp_path: Path) -> None:
    tasks = await seed(db)
    report = await reports.build(db, settings(db, tmp_path), now=NOW)
    by_task = report.group("task")
    assert [line.key for line in by_task] == [
        "(deleted task)",
        str(tasks["orders"].id),
        str(tasks["revenue"].id),
    ]  # costliest first
    assert by_task[1].label == "load orders"
    assert report.line("model", "openai/gpt-4o").unpriced_calls == 1  # type: ignore[union-attr]
    assert [line.key for line in report.group("day")] == sorted(
        line.key for line in report.group("day")
    )
    assert report.lines[0].grouping == "total"


async def test_csv_is_written_under_home_reports_with_a_header(
    db: Database, tmp_path: Path
) -> None:
    tasks = await seed(db)
    s = settings(db, tmp_path)
    report = await reports.build(db, s, now=NOW)
    path = reports.write_csv(report, reports.reports_dir(s))
    assert path == s.home / "reports" / "cost-report-2025-03-20.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == reports.CSV_COLUMNS
    assert rows[1] == ["total", "all", "", "7", "560", "57", "0.1921234572", "1"]
    assert len(rows) == 1 + len(report.lines)
    revenue = next(r for r in rows if r[1] == str(tasks["revenue"].id))
    assert revenue[2] == '\'=HYPERLINK("http://evil")'
    again = reports.write_csv(report, reports.reports_dir(s))  # a re-run replaces the file
    assert again == path
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


async def test_an_empty_ledger_gives_a_zero_report(db: Database, tmp_path: Path) -> None:
    report = await reports.build(db, settings(db, tmp_path), now=NOW, months=1)
    assert [(x.grouping, x.key, x.cost_usd) for x in report.lines] == [("total", "all", 0)]
    assert report.window_start == dt.datetime(2025, 3, 1, tzinfo=PARIS)


async def test_bad_parameters_are_refused_with_the_field_named(
    db: Database, tmp_path: Path
) -> None:
    s = settings(db, tmp_path)
    with pytest.raises(InvalidRequestError, match="months=0") as bad:
        await reports.build(db, s, now=NOW, months=0)
    assert bad.value.details["field"] == "months"
    with pytest.raises(InvalidRequestError, match="no time zone") as naive:
        await reports.build(db, s, now=dt.datetime(2025, 3, 20, 10, 0))  # noqa: DTZ001 - the bad input
    assert naive.value.details["field"] == "now"


def test_period_bounds_are_local_calendar_periods_across_dst() -> None:
    # Europe/Paris springs forward on Sunday 2025-03-30: that local day has 23 hours
    now = dt.datetime(2025, 3, 30, 12, 0, tzinfo=dt.UTC)
    day = reports.period_bounds("day", now, PARIS)
    assert (day.key, day.start, day.end) == ("2025-03-30", at(2025, 3, 29, 23), at(2025, 3, 30, 22))
    week = reports.period_bounds("week", now, PARIS)
    assert (week.key, week.start, week.end) == (
        "2025-W13",
        at(2025, 3, 23, 23),
        at(2025, 3, 30, 22),
    )
    month = reports.period_bounds("month", at(2025, 12, 31, 23, 30), PARIS)  # already January
    assert (month.key, month.start, month.end) == (
        "2026-01",
        at(2025, 12, 31, 23),
        at(2026, 1, 31, 23),
    )
    assert reports.window_start(now, PARIS, 14) == dt.datetime(2024, 2, 1, tzinfo=PARIS)


def test_usd_is_exact() -> None:
    assert reports.usd(Decimal("12.5000000000")) == "$12.50"
    assert reports.usd(Decimal("0.0001234567")) == "$0.0001234567"
    assert reports.usd(Decimal("100")) == "$100.00"
    assert reports.usd(Decimal("0E-10")) == "$0.00"
