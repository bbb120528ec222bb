"""Spend summed by the database equals spend summed here, row by row, in Python.

Property-based: random ledgers (unpriced calls, compute rows, rows of deleted tasks,
amounts up to 100,000 USD with ten decimal places) around the days clocks change in
several time zones, on SQLite and PostgreSQL. The expected figures are computed from
the generated rows with ``zoneinfo`` and exact ``Decimal`` additions, independently of
the code under test (no shared bucketing helper).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, text

from aadap.core.config import BudgetSettings, Settings
from aadap.core.exceptions import CostBudgetExceededError, InvalidRequestError
from aadap.db import migrate, models
from aadap.db.repos import cost_repo
from aadap.db.session import Database
from aadap.services import aggregates, budget_watch, costs, reports
from aadap.services.periods import covering, period_bounds
from tests import builders
from tests.conftest import settings_for, throwaway_postgres_database

UTC = dt.UTC
#: whole-hour zones with and without daylight saving, and zones whose offset is not whole
#: hours: Kolkata (+05:30), Eucla (+08:45), Kathmandu (+05:45), and Lord Howe, whose
#: clocks move by 30 minutes (+10:30 / +11:00)
ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Australia/Eucla",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
]
#: instants where some zone's clocks change, and a year's (and an ISO week's) last hour
ANCHORS = [
    dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Europe: 02:00 -> 03:00
    dt.datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Europe: 03:00 -> 02:00
    dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC),  # New York: 02:00 -> 03:00
    dt.datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # New York: 02:00 -> 01:00
    dt.datetime(2026, 4, 4, 16, 0, tzinfo=UTC),  # Sydney: 03:00 -> 02:00 on the 5th
    dt.datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe: 02:00 -> 02:30 on the 4th
    dt.datetime(2026, 3, 31, 15, 15, tzinfo=UTC),  # Eucla (+08:45): local midnight, 1 April
    dt.datetime(2025, 12, 31, 23, 30, tzinfo=UTC),  # a new year, a new ISO week
]
GROUPINGS = ["task", "agent", "model", "day", "week", "month"]
MODELS = [("openai", "gpt-4o"), ("vllm", "llama-3"), ("databricks", "databricks-compute")]

instants = st.builds(
    lambda anchor, seconds, micros: anchor + dt.timedelta(seconds=seconds, microseconds=micros),
    st.sampled_from(ANCHORS),
    st.integers(-3 * 86400, 3 * 86400),
    st.integers(0, 999_999),
)


@dataclass(frozen=True)
class Row:
    task: int | None  # index into the test's tasks; None: a deleted task
    agent: str
    model: tuple[str, str]
    tokens_in: int
    tokens_out: int
    units: int | None  # cost in 10^-10 USD; None: unpriced
    kind: str
    at: dt.datetime

    @property
    def cost(self) -> Decimal | None:
        return None if self.units is None else Decimal(self.units).scaleb(-10)


rows_strategy = st.lists(
    st.builds(
        Row,
        task=st.sampled_from([None, 0, 1, 2]),
        agent=st.sampled_from(["parser", "developer", "deploy"]),
        model=st.sampled_from(MODELS),
        tokens_in=st.integers(0, 10**6),
        tokens_out=st.integers(0, 10**6),
        units=st.one_of(st.none(), st.integers(0, 10**15)),
        kind=st.sampled_from(["llm", "compute"]),
        at=instants,
    ),
    max_size=25,
)
PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Figures = tuple[int, int, int, Decimal, int]


def _local_key(at: dt.datetime, by: str, tz: dt.tzinfo) -> str:
    local = at.astimezone(tz)
    iso = local.isocalendar()
    return {
        "day": f"{local.year:04d}-{local.month:02d}-{local.day:02d}",
        "week": f"{iso.year}-W{iso.week:02d}",
        "month": f"{local.year:04d}-{local.month:02d}",
    }[by]


def _key(row: Row, by: str, task_ids: list[uuid.UUID], tz: dt.tzinfo) -> str:
    if by == "task":
        return "(deleted task)" if row.task is None else str(task_ids[row.task])
    if by == "agent":
        return row.agent
    if by == "model":
        return "/".join(row.model)
    return _local_key(row.at, by, tz)


def expected(rows: Iterable[Row], key: Any) -> dict[str, Figures]:
    out: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0), 0])
    for row in rows:
        entry = out[key(row)]
        entry[0] += 1
        entry[1] += row.tokens_in
        entry[2] += row.tokens_out
        if row.units is None:
            entry[4] += 1
        else:
            entry[3] += row.cost
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


@pytest.fixture
async def task_ids(db: Database) -> list[uuid.UUID]:
    made = [builders.task(title=f"task {i}") for i in range(3)]
    async with db.transaction() as session:
        session.add_all(made)
    return [t.id for t in made]


async def store(db: Database, rows: list[Row], task_ids: list[uuid.UUID]) -> None:
    """Replace the ledger with ``rows``."""
    async with db.transaction() as session:
        await session.execute(delete(models.CostRecord))
        session.add_all(
            builders.cost(
                None if r.task is None else task_ids[r.task],
                agent_type=r.agent,
                provider=r.model[0],
                model=r.model[1],
                tokens_in=r.tokens_in,
                tokens_out=r.tokens_out,
                cost_usd=r.cost,
                kind=r.kind,
                created_at=r.at,
            )
            for r in rows
        )


def figures(groups: Iterable[aggregates.Group]) -> dict[str, Figures]:
    return {
        g.key: (
            g.sums.calls,
            g.sums.tokens_in,
            g.sums.tokens_out,
            g.sums.cost_usd,
            g.sums.unpriced_calls,
        )
        for g in groups
    }


def app_settings(db: Database, tmp_path: Path, zone: str, **budgets: Any) -> Settings:
    return settings_for(
        db.engine.url.render_as_string(hide_password=False),
        tmp_path / "home",
        timezone=zone,
        budgets=BudgetSettings(**budgets),
    )


# --- properties ---------------------------------------------------------------------------


@PROPERTY
@given(
    rows=rows_strategy,
    zone=st.sampled_from(ZONES),
    by=st.sampled_from(GROUPINGS),
    since=st.one_of(st.none(), instants),
)
async def test_costs_by_every_grouping_equal_python_sums(
    db: Database, task_ids: list[uuid.UUID], rows: list[Row], zone: str, by: str, since: Any
) -> None:
    await store(db, rows, task_ids)
    tz = zoneinfo.ZoneInfo(zone)
    async with db.sessions() as session:
        got = await costs.summarise(session, by=by, since=since, tz=tz)  # type: ignore[arg-type]
    kept = [r for r in rows if since is None or r.at >= since]
    assert {
        g[by]: (g["calls"], g["tokens_in"], g["tokens_out"], g["cost_usd"], g["unpriced_calls"])
        for g in got
    } == expected(kept, lambda r: _key(r, by, task_ids, tz))
    assert [g[by] for g in got] == sorted(g[by] for g in got)


@PROPERTY
@given(rows=rows_strategy, zone=st.sampled_from(ZONES), now=instants)
async def test_budget_periods_equal_python_sums(
    db: Database, task_ids: list[uuid.UUID], rows: list[Row], zone: str, now: dt.datetime
) -> None:
    """What the budget watch and the new-task check read: the local day and month of ``now``."""
    await store(db, rows, task_ids)
    tz = zoneinfo.ZoneInfo(zone)
    local = now.astimezone(tz)
    day_start = dt.datetime(local.year, local.month, local.day, tzinfo=tz)
    next_day = (local + dt.timedelta(days=1)).date()
    day_end = dt.datetime(next_day.year, next_day.month, next_day.day, tzinfo=tz)
    month_start = dt.datetime(local.year, local.month, 1, tzinfo=tz)
    month_end = dt.datetime(local.year + local.month // 12, local.month % 12 + 1, 1, tzinfo=tz)
    bounds = [period_bounds("day", now, tz), period_bounds("month", now, tz)]
    async with db.sessions() as session:
        got = await aggregates.in_periods(session, bounds)
    for (usd, calls, unpriced), (start, end) in zip(
        got, [(day_start, day_end), (month_start, month_end)], strict=True
    ):
        inside = [r for r in rows if start <= r.at < end]
        assert calls == len(inside)
        assert unpriced == sum(r.units is None for r in inside)
        assert usd == sum((r.cost for r in inside if r.cost is not None), Decimal(0))


@PROPERTY
@given(
    rows=rows_strategy,
    zone=st.sampled_from(ZONES),
    now=instants,
    months=st.integers(1, 3),
)
async def test_the_cost_report_equals_python_sums(
    db: Database,
    task_ids: list[uuid.UUID],
    tmp_path: Path,
    rows: list[Row],
    zone: str,
    now: dt.datetime,
    months: int,
) -> None:
    await store(db, rows, task_ids)
    tz = zoneinfo.ZoneInfo(zone)
    report = await reports.build(db, app_settings(db, tmp_path, zone), now=now, months=months)
    local = now.astimezone(tz)
    first = local.year * 12 + local.month - 1 - (months - 1)
    start = dt.datetime(first // 12, first % 12 + 1, 1, tzinfo=tz)
    kept = [r for r in rows if start <= r.at <= now]
    for grouping in ("day", "week", "month", "agent", "model", "task"):
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
        assert got == expected(kept, lambda r, g=grouping: _key(r, g, task_ids, tz)), grouping
    total = report.total
    assert total.calls == len(kept)
    assert total.cost_usd == sum((r.cost for r in kept if r.cost is not None), Decimal(0))
    titles = {line.key: line.label for line in report.group("task")}
    assert all(titles[str(t)] == f"task {i}" for i, t in enumerate(task_ids) if str(t) in titles)


# --- bad input and edges --------------------------------------------------------------------


async def test_an_empty_ledger_gives_empty_groups_and_zero_periods(db: Database) -> None:
    async with db.sessions() as session:
        for by in GROUPINGS:
            assert await costs.summarise(session, by=by) == []  # type: ignore[arg-type]
        day = period_bounds("day", ANCHORS[0], UTC)
        assert await aggregates.in_periods(session, [day]) == [(Decimal(0), 0, 0)]


async def test_since_far_in_the_past_or_future(db: Database, task_ids: list[uuid.UUID]) -> None:
    rows = [
        Row(0, "parser", MODELS[0], 1, 2, 5, "llm", ANCHORS[0]),
        Row(1, "deploy", MODELS[2], 0, 0, None, "compute", ANCHORS[1]),
    ]
    await store(db, rows, task_ids)
    async with db.sessions() as session:
        for by in GROUPINGS:
            everything = await costs.summarise(session, by=by)  # type: ignore[arg-type]
            ancient = dt.datetime(1, 1, 2, tzinfo=UTC)
            assert await costs.summarise(session, by=by, since=ancient) == everything  # type: ignore[arg-type]
            future = dt.datetime(9999, 12, 30, tzinfo=UTC)
            assert await costs.summarise(session, by=by, since=future) == []  # type: ignore[arg-type]


async def test_an_unknown_grouping_is_refused_with_the_field(db: Database) -> None:
    async with db.sessions() as session:
        with pytest.raises(InvalidRequestError, match=r"by='year' is not valid; allowed: task"):
            await costs.summarise(session, by="year")  # type: ignore[arg-type]


async def test_too_many_time_buckets_are_refused_not_computed(
    db: Database, task_ids: list[uuid.UUID]
) -> None:
    rows = [
        Row(0, "parser", MODELS[0], 1, 2, 5, "llm", dt.datetime(1990, 1, 1, tzinfo=UTC)),
        Row(0, "parser", MODELS[0], 1, 2, 5, "llm", ANCHORS[0]),
    ]
    await store(db, rows, task_ids)
    async with db.sessions() as session:
        with pytest.raises(InvalidRequestError, match="more than 10000 groups") as caught:
            await costs.summarise(session, by="day")
        assert caught.value.details["field"] == "by"
        months = await costs.summarise(session, by="month")
    assert [m["month"] for m in months] == ["1990-01", "2026-03"]


async def test_the_most_time_buckets_one_query_makes_are_answered(
    db: Database, task_ids: list[uuid.UUID]
) -> None:
    """27 years of days (9,862 periods, three bound values each) in one statement: within
    SQLite's limit of bound values too, and only the two days with rows come back."""
    first = dt.datetime(2000, 1, 1, 12, tzinfo=UTC)
    rows = [
        Row(0, "parser", MODELS[0], 1, 2, 5, "llm", first),
        Row(None, "parser", MODELS[0], 3, 4, None, "llm", dt.datetime(2026, 12, 31, tzinfo=UTC)),
    ]
    await store(db, rows, task_ids)
    async with db.sessions() as session:
        days = await costs.summarise(session, by="day", tz=zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert [(d["day"], d["calls"], d["unpriced_calls"]) for d in days] == [
        ("2000-01-01", 1, 0),
        ("2026-12-31", 1, 1),
    ]


# --- PostgreSQL: the index the budget check relies on, and concurrent writers ------------------


def _plan_nodes(plan: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


#: the end of :func:`year_of_rows`'s rows
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
async def year_of_rows(session_home: Path) -> AsyncIterator[Database]:
    """A PostgreSQL database of its own holding 500,000 cost rows, one a minute before
    :data:`NOW`, 10 % unpriced, vacuumed and analysed as autovacuum leaves them; seeded once
    for the plans below (each seeding took 7 s)."""
    with throwaway_postgres_database() as url:
        database = Database(settings_for(url, session_home / "aadap"))
        try:
            await migrate.upgrade(database.engine)
            async with database.engine.connect() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO cost_records (id, agent_type, kind, provider, model, "
                        "tokens_in, tokens_out, cost_usd_e10, attempt, call_id, status, details, "
                        "created_at) SELECT gen_random_uuid(), 'developer', 'llm', 'openai', "
                        "'gpt-4o', 1, 1, CASE WHEN g % 10 = 0 THEN NULL ELSE g END, 1, 'c' || g, "
                        "'succeeded', '{}', :now - make_interval(mins => g) "
                        "FROM generate_series(1, 500000) AS g"
                    ),
                    {"now": NOW},
                )
                await conn.commit()
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE cost_records")
            yield database
        finally:
            await database.dispose()


async def _explained(db: Database, statement: Any) -> list[dict[str, Any]]:
    """The scans of ``statement``'s plan (EXPLAIN ANALYZE)."""
    async with db.engine.connect() as conn:
        compiled = statement.compile(dialect=conn.dialect)
        plan = (
            await conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, compiled.params
            )
        ).scalar_one()
    plan = plan if isinstance(plan, list) else json.loads(plan)
    return [n for n in _plan_nodes(plan[0]["Plan"]) if "Scan" in n["Node Type"]]


@pytest.mark.postgres
async def test_the_budget_check_reads_only_the_period_index(year_of_rows: Database) -> None:
    """With a year of rows, the day-and-month query is an index-only scan of
    ``ix_cost_records_created_at_sums`` and nothing else (EXPLAIN ANALYZE)."""
    bounds = [period_bounds("day", NOW, UTC), period_bounds("month", NOW, UTC)]
    scans = await _explained(year_of_rows, cost_repo.in_periods_statement(bounds))
    assert [(n["Node Type"], n.get("Index Name")) for n in scans] == [
        ("Index Only Scan", "ix_cost_records_created_at_sums")
    ]
    assert scans[0]["Actual Rows"] == 60 * 24 * 14 + 12 * 60  # June 1-14 and the 15th to noon


@pytest.mark.postgres
async def test_spend_by_local_day_reads_one_index_range_per_day(year_of_rows: Database) -> None:
    """Spend by local day over a year of rows: one index-only range scan of
    ``ix_cost_records_created_at_sums`` per day (no heap, no scan of the table), every
    row read once."""
    start = NOW - dt.timedelta(minutes=500_000)
    days = covering("day", start, NOW, zoneinfo.ZoneInfo("Europe/Paris"), limit=1000)
    scans = await _explained(year_of_rows, cost_repo.by_period_statement(days, start, NOW))
    index_scans = [n for n in scans if n["Node Type"] != "Values Scan"]
    assert [(n["Node Type"], n.get("Index Name")) for n in index_scans] == [
        ("Index Only Scan", "ix_cost_records_created_at_sums")
    ]
    assert index_scans[0]["Actual Loops"] == len(days) == 348
    assert index_scans[0]["Actual Rows"] * len(days) == pytest.approx(500_000, rel=0.01)
    assert index_scans[0]["Heap Fetches"] == 0


@pytest.mark.postgres
async def test_the_reports_agent_and_model_read_is_one_range_of_the_groups_index(
    year_of_rows: Database,
) -> None:
    """The cost report's spend per agent and model over its window (three months of a
    year of rows) reads ``ix_cost_records_created_at_groups`` alone: index only, no heap,
    only the window's rows (the whole table was scanned before that index)."""
    start = NOW - dt.timedelta(minutes=130_000)
    scans = await _explained(year_of_rows, cost_repo.agent_model_statement(start, NOW))
    assert {(n["Node Type"], n.get("Index Name")) for n in scans} == {
        ("Index Only Scan", "ix_cost_records_created_at_groups")
    }
    # a parallel scan reports its rows per loop, rounded: the product is within a row a loop
    assert sum(n["Actual Rows"] * n["Actual Loops"] for n in scans) == pytest.approx(130_000, abs=3)
    assert all(n["Heap Fetches"] == 0 for n in scans)


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
async def test_concurrent_writers_and_new_task_checks_see_every_committed_cost(
    db: Database, tmp_path: Path
) -> None:
    """Twenty writers record 0.01 USD each while twenty new-task checks run: no check fails
    for any other reason, the sum is exact, and once the writers are done the 1-USD monthly
    budget's hard limit refuses new lifecycles."""
    s = app_settings(db, tmp_path, "Europe/Paris", monthly_usd=Decimal("1.00"))
    async with db.transaction() as session:
        session.add(builders.cost(None, cost_usd=Decimal("0.80")))

    async def write(i: int) -> None:
        async with db.transaction() as session:
            session.add(builders.cost(None, cost_usd=Decimal("0.01"), call_id=f"w{i}"))

    async def check() -> str:
        try:
            await budget_watch.ensure_spend_allows_new_task(db, s)
        except CostBudgetExceededError:
            return "refused"
        return "allowed"

    outcomes = await asyncio.gather(*(write(i) for i in range(20)), *(check() for _ in range(20)))
    assert set(outcomes[20:]) <= {"allowed", "refused"}
    _daily, monthly = await budget_watch.spend(db, s)
    assert monthly.spend_usd == Decimal("1.00")
    assert monthly.calls == 21
    with pytest.raises(CostBudgetExceededError, match="new lifecycles are refused"):
        await budget_watch.ensure_spend_allows_new_task(db, s)
