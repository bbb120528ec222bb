"""``cost_records`` and the task's running totals, on both databases: exact Decimal sums,
idempotent writes, attempt settlement, and the groupings ``aadap costs`` prints."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import IntegrityError

from aadap.core.enums import CostStatus
from aadap.db import models
from aadap.db.session import Database
from aadap.llm.messages import Completion, Usage
from aadap.services import budget, costs
from aadap.services.context import RunContext, Spend
from tests import builders

UTC = dt.UTC


async def new_task(db: Database, **fields: Any) -> models.Task:
    async with db.transaction() as session:
        task = builders.task(**fields)
        session.add(task)
    return task


async def reload(db: Database, task_id: uuid.UUID) -> models.Task:
    async with db.sessions() as session:
        task = await session.get(models.Task, task_id)
    assert task is not None
    return task


async def cost_rows(db: Database, **where: Any) -> list[models.CostRecord]:
    async with db.sessions() as session:
        stmt = select(models.CostRecord).filter_by(**where).order_by(models.CostRecord.call_id)
        return list((await session.execute(stmt)).scalars())


def completion(tokens_in: int, tokens_out: int, cost: str | None) -> Completion:
    usage = Usage(tokens_in, tokens_out, None if cost is None else Decimal(cost))
    return Completion("{}", "gpt-4o-mini", "openai", usage, latency_ms=42)


# --- record_llm_call -------------------------------------------------------------------


async def test_each_call_is_committed_pending_with_its_run_context(db: Database) -> None:
    task = await new_task(db)
    ctx = RunContext(task.id, task.correlation_id, "flow-1", "task-run-1", "developer", 2)

    row = await costs.record_llm_call(
        db, ctx=ctx, agent="developer", completion=completion(1200, 300, "0.000405"), call_id="c1"
    )

    [stored] = await cost_rows(db)
    assert stored.id == row.id
    assert (stored.task_id, stored.flow_run_id, stored.task_run_id, stored.attempt) == (
        task.id,
        "flow-1",
        "task-run-1",
        2,
    )
    assert (stored.agent_type, stored.provider, stored.model, stored.kind) == (
        "developer",
        "openai",
        "gpt-4o-mini",
        "llm",
    )
    assert (stored.tokens_in, stored.tokens_out, stored.cost_usd, stored.latency_ms) == (
        1200,
        300,
        Decimal("0.000405"),
        42,
    )
    assert stored.status == CostStatus.PENDING.value
    assert stored.details == {"step": "developer", "priced": True}
    after = await reload(db, task.id)
    assert (after.tokens_used, after.cost_usd) == (1500, Decimal("0.000405"))


async def test_concurrent_calls_add_up_exactly_on_the_task(db: Database) -> None:
    """Twenty calls at once (separate transactions): the totals are exact Decimal sums."""
    task = await new_task(db)
    ctx = RunContext(task.id, task.correlation_id)
    prices = ["0.1", "0.2", "0.0000000001", "0.0000000009", "1.2345678901"] * 4
    usages = [(100 + i, 10 * i, p) for i, p in enumerate(prices)]

    await asyncio.gather(
        *(
            costs.record_llm_call(
                db, ctx=ctx, agent="parser", completion=completion(a, b, p), call_id=f"call-{i}"
            )
            for i, (a, b, p) in enumerate(usages)
        )
    )

    after = await reload(db, task.id)
    rows = await cost_rows(db, task_id=task.id)
    assert len(rows) == 20
    assert after.tokens_used == sum(a + b for a, b, _ in usages)
    assert after.cost_usd == sum(Decimal(p) for p in prices) == Decimal("6.1382715644")
    assert str(after.cost_usd.normalize()) == "6.1382715644"  # no float arithmetic anywhere
    assert sum(r.cost_usd or Decimal(0) for r in rows) == after.cost_usd


async def test_runs_whose_known_totals_go_stale_lose_no_update(db: Database) -> None:
    """Four runs of one task write at once, each from its own view of the totals
    (``Spend``), which every other run's write makes stale: each stale compare-and-set
    falls back to the locked read, so the task's totals are every call's exact sum and
    each run's view ends at a total some write committed."""
    task = await new_task(db)
    spends = [Spend(0, Decimal(0), 10**9, None) for _ in range(4)]
    prices = ["0.1", "0.0000000001", "1.2345678901", "0.3"]

    async def run(n: int) -> None:
        ctx = RunContext(task.id, task.correlation_id, spend=spends[n])
        for i, p in enumerate(prices):
            await costs.record_llm_call(
                db, ctx=ctx, agent="parser", completion=completion(1, 2, p), call_id=f"r{n}-{i}"
            )

    await asyncio.gather(*(run(n) for n in range(4)))

    after = await reload(db, task.id)
    assert after.cost_usd == 4 * sum(Decimal(p) for p in prices) == Decimal("6.5382715608")
    assert after.tokens_used == 16 * 3
    assert max(s.cost_usd for s in spends) == after.cost_usd
    assert all(s.cost_usd > 0 and s.tokens_used % 3 == 0 for s in spends)


async def test_totals_stay_exact_at_any_magnitude_the_column_holds(db: Database) -> None:
    """NUMERIC(20, 10): 20 significant digits. SQLite has no decimal type, so adding in SQL
    there would be floating point (15-16 digits); the sum must still be exact."""
    task = await new_task(db, cost_usd=Decimal("1234567.8901234567"), cost_budget_usd=None)
    ctx = RunContext(task.id, task.correlation_id)
    await costs.record_llm_call(
        db, ctx=ctx, agent="developer", completion=completion(1, 1, "0.0000000001")
    )
    await costs.record_compute(
        db, ctx=ctx, task_id=task.id, platform="databricks", duration_ms=1,
        usd_per_hour=Decimal("0.36"), call_id="compute-tiny",
    )  # fmt: skip
    assert (await reload(db, task.id)).cost_usd == Decimal("1234567.8901235568")  # + 1e-10 + 1e-7


async def test_a_run_adds_exactly_from_the_total_it_knows_or_a_stale_one(db: Database) -> None:
    """A lifecycle passes the total it last wrote (``Spend.cost_usd``); SQLite then writes
    the exact sum without reading. When another writer changed the total in between, the
    run's figure is stale: the sum must still be the stored total plus the call, and the
    run's view comes back level with the database."""
    task = await new_task(db, cost_usd=Decimal("0.5"), cost_budget_usd=None)
    spend = budget.of_task(task)
    ctx = RunContext(task.id, task.correlation_id, spend=spend)
    await costs.record_llm_call(db, ctx=ctx, agent="parser", completion=completion(1, 1, "0.25"))
    assert spend.cost_usd == (await reload(db, task.id)).cost_usd == Decimal("0.75")
    async with db.transaction() as session:  # another writer, behind the run's back
        await session.execute(
            update(models.Task).where(models.Task.id == task.id).values(cost_usd=Decimal("2"))
        )
    await costs.record_llm_call(db, ctx=ctx, agent="planner", completion=completion(1, 1, "0.1"))
    assert spend.cost_usd == (await reload(db, task.id)).cost_usd == Decimal("2.1")
    assert spend.tokens_used == (await reload(db, task.id)).tokens_used == 4


async def test_an_unpriced_call_is_recorded_as_unpriced_not_free(db: Database) -> None:
    task = await new_task(db)
    ctx = RunContext(task.id, task.correlation_id)
    await costs.record_llm_call(db, ctx=ctx, agent="planner", completion=completion(10, 5, None))
    await costs.record_llm_call(db, ctx=ctx, agent="planner", completion=completion(1, 1, "0.5"))

    after = await reload(db, task.id)
    assert (after.tokens_used, after.cost_usd) == (17, Decimal("0.5"))
    async with db.sessions() as session:
        assert await costs.unpriced_calls(session, task.id) == 1
    unpriced = [r for r in await cost_rows(db) if r.cost_usd is None]
    assert [r.details["priced"] for r in unpriced] == [False]


async def test_a_call_outside_a_lifecycle_touches_no_task(db: Database) -> None:
    task = await new_task(db)
    row = await costs.record_llm_call(
        db, ctx=None, agent="parser", completion=completion(5, 5, "1")
    )
    assert row.task_id is None and row.attempt == 1
    after = await reload(db, task.id)
    assert (after.tokens_used, after.cost_usd) == (0, Decimal(0))


async def test_the_same_call_id_is_never_recorded_twice(db: Database) -> None:
    task = await new_task(db)
    ctx = RunContext(task.id, task.correlation_id)
    await costs.record_llm_call(
        db, ctx=ctx, agent="parser", completion=completion(5, 5, "1"), call_id="x"
    )
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await costs.record_llm_call(
            db, ctx=ctx, agent="parser", completion=completion(5, 5, "1"), call_id="x"
        )
    after = await reload(db, task.id)
    assert (after.tokens_used, after.cost_usd) == (
        10,
        Decimal(1),
    )  # the refused write left no trace
    assert len(await cost_rows(db)) == 1


async def test_a_call_commits_at_once_and_a_refused_one_adds_nothing(
    db: Database, backend: str
) -> None:
    """The cost row is committed when ``record_llm_call`` returns (another session sees it).
    A refused call (a duplicate ``call_id``) adds nothing to the task's totals."""
    task = await new_task(db)
    ctx = RunContext(task.id, task.correlation_id, "flow-1", "tr-1", "parser", 1)

    await costs.record_llm_call(
        db, ctx=ctx, agent="parser", completion=completion(10, 5, "0.01"), call_id="c1"
    )
    assert [r.call_id for r in await cost_rows(db)] == ["c1"]

    with pytest.raises(IntegrityError):
        await costs.record_llm_call(
            db, ctx=ctx, agent="parser", completion=completion(10, 5, "0.01"), call_id="c1"
        )
    assert (await reload(db, task.id)).tokens_used == 15


# --- record_compute --------------------------------------------------------------------


async def test_record_compute_is_idempotent_per_call_id(db: Database) -> None:
    task = await new_task(db)
    args = {
        "ctx": None,
        "task_id": task.id,
        "platform": "databricks",
        "duration_ms": 90_000,
        "usd_per_hour": Decimal("0.70"),
    }

    first = await costs.record_compute(db, call_id="compute-1", **args)
    again = await costs.record_compute(db, call_id="compute-1", **args)
    other = await costs.record_compute(db, call_id="compute-2", **args)

    assert again.id == first.id and other.id != first.id
    assert first.cost_usd == Decimal("0.0175")  # 90 s at $0.70/h, exactly
    rows = await cost_rows(db, task_id=task.id)
    assert [(r.call_id, r.kind, r.status, r.cost_usd) for r in rows] == [
        ("compute-1", "compute", "succeeded", Decimal("0.0175")),
        ("compute-2", "compute", "succeeded", Decimal("0.0175")),
    ]
    assert (await reload(db, task.id)).cost_usd == Decimal("0.0350")


async def test_concurrent_record_compute_of_one_call_id_writes_one_row(db: Database) -> None:
    task = await new_task(db)

    results = await asyncio.gather(
        *(
            costs.record_compute(
                db,
                ctx=None,
                task_id=task.id,
                platform="fabric",
                duration_ms=3_600_000,
                usd_per_hour=Decimal("0.36"),
                call_id="compute-once",
            )
            for _ in range(5)
        )
    )

    assert len({r.id for r in results}) == 1
    assert len(await cost_rows(db, task_id=task.id)) == 1
    assert (await reload(db, task.id)).cost_usd == Decimal("0.36")


# --- settling attempts -----------------------------------------------------------------


async def test_finalise_attempts_fails_earlier_attempts_and_settles_the_last(db: Database) -> None:
    task = await new_task(db)
    async with db.transaction() as session:
        for call_id, task_run, attempt, status in [
            ("a1", "tr-1", 1, "pending"),
            ("a1b", "tr-1", 1, "pending"),  # a re-prompt inside the same attempt
            ("a2", "tr-1", 2, "pending"),
            ("a3", "tr-1", 3, "pending"),
            ("a0", "tr-1", 1, "orphaned"),  # already settled: left alone
            ("b1", "tr-2", 1, "pending"),  # another step: left alone
        ]:
            session.add(
                builders.cost(
                    task.id, call_id=call_id, task_run_id=task_run, attempt=attempt, status=status
                )
            )

    settled = await costs.finalise_attempts(db, task_run_id="tr-1", final_attempt=3, succeeded=True)

    assert settled == 4
    status = {r.call_id: r.status for r in await cost_rows(db)}
    assert status == {
        "a0": "orphaned",
        "a1": "failed",
        "a1b": "failed",
        "a2": "failed",
        "a3": "succeeded",
        "b1": "pending",
    }
    assert (
        await costs.finalise_attempts(db, task_run_id="tr-1", final_attempt=3, succeeded=True) == 0
    )
    assert (
        await costs.finalise_attempts(db, task_run_id="tr-2", final_attempt=1, succeeded=False) == 1
    )
    assert {r.call_id: r.status for r in await cost_rows(db)}["b1"] == "failed"


async def test_orphan_pending_settles_only_that_tasks_pending_rows(db: Database) -> None:
    mine, other = await new_task(db), await new_task(db)
    async with db.transaction() as session:
        session.add_all(
            [
                builders.cost(mine.id, call_id="m1", status="pending"),
                builders.cost(mine.id, call_id="m2", status="succeeded"),
                builders.cost(other.id, call_id="o1", status="pending"),
            ]
        )
    async with db.transaction() as session:
        assert await costs.orphan_pending(session, task_id=mine.id) == 1
    status = {r.call_id: r.status for r in await cost_rows(db)}
    assert status == {"m1": "orphaned", "m2": "succeeded", "o1": "pending"}


# --- summarise (what ``aadap costs`` prints) --------------------------------------------


@dataclass(frozen=True)
class Spec:
    task: int | None  # index into the tasks, None for a row whose task was deleted
    agent: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    cost: str | None
    at: dt.datetime


def _at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


SPECS = [
    Spec(0, "parser", "openai", "gpt-4o-mini", 1000, 200, "0.1", _at(2025, 12, 29, 0, 30)),  # 2026-W01
    Spec(0, "planner", "openai", "gpt-4o-mini", 800, 100, "0.2", _at(2025, 12, 31, 23, 59)),
    Spec(0, "developer", "openai", "gpt-4o", 2000, 900, "1.2345678901", _at(2026, 1, 31, 23, 30)),
    Spec(1, "developer", "openai", "gpt-4o", 10, 1, "0.0000000001", _at(2026, 2, 1, 0, 10)),
    Spec(1, "reviewer", "offline", "offline-rules-v1", 500, 50, "0", _at(2026, 2, 1, 15, 0)),
    Spec(1, "reviewer", "vllm", "llama-3", 700, 70, None, _at(2026, 2, 28, 12, 0)),  # unpriced
    Spec(2, "developer", "openai", "gpt-4o", 3, 4, "99999.9999999999", _at(2026, 3, 2, 9, 0)),
    Spec(None, "deploy", "databricks", "databricks-compute", 0, 0, "0.0175", _at(2026, 3, 8, 23, 0)),
]  # fmt: skip


def _key(spec: Spec, task_ids: list[uuid.UUID], by: str, tz: dt.tzinfo) -> str:
    local = spec.at.astimezone(tz)
    iso = local.isocalendar()
    return {
        "task": "(deleted task)" if spec.task is None else str(task_ids[spec.task]),
        "agent": spec.agent,
        "model": f"{spec.provider}/{spec.model}",
        "day": local.date().isoformat(),
        "week": f"{iso.year}-W{iso.week:02d}",
        "month": f"{local.year}-{local.month:02d}",
    }[by]


def expected(
    task_ids: list[uuid.UUID], by: str, tz: dt.tzinfo, since: dt.datetime | None = None
) -> dict[str, tuple[int, int, int, Decimal, int]]:
    """(calls, tokens in, tokens out, USD, unpriced calls) per bucket, from the specs in Python."""
    out: dict[str, list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal(0), 0])
    for spec in SPECS:
        if since is not None and spec.at < since:
            continue
        entry = out[_key(spec, task_ids, by, tz)]
        entry[0] += 1
        entry[1] += spec.tokens_in
        entry[2] += spec.tokens_out
        if spec.cost is None:
            entry[4] += 1
        else:
            entry[3] += Decimal(spec.cost)
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


@pytest.fixture
async def spend(db: Database) -> list[uuid.UUID]:
    tasks = [await new_task(db) for _ in range(3)]
    async with db.transaction() as session:
        for i, spec in enumerate(SPECS):
            session.add(
                builders.cost(
                    None if spec.task is None else tasks[spec.task].id,
                    call_id=f"spec-{i}",
                    agent_type=spec.agent,
                    provider=spec.provider,
                    model=spec.model,
                    tokens_in=spec.tokens_in,
                    tokens_out=spec.tokens_out,
                    cost_usd=None if spec.cost is None else Decimal(spec.cost),
                    created_at=spec.at,
                    kind="compute" if spec.agent == "deploy" else "llm",
                )
            )
    return [t.id for t in tasks]


def as_tuples(rows: list[dict[str, Any]], by: str) -> dict[str, tuple[int, int, int, Decimal, int]]:
    return {
        r[by]: (r["calls"], r["tokens_in"], r["tokens_out"], r["cost_usd"], r["unpriced_calls"])
        for r in rows
    }


GROUPINGS = ["task", "agent", "model", "day", "week", "month"]


@pytest.mark.parametrize("by", GROUPINGS)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Los_Angeles"])
async def test_summarise_groups_with_exact_sums(
    db: Database, spend: list[uuid.UUID], by: str, zone: str
) -> None:
    tz = zoneinfo.ZoneInfo(zone)
    async with db.sessions() as session:
        rows = await costs.summarise(session, by=by, tz=tz)  # type: ignore[arg-type]

    assert [r[by] for r in rows] == sorted(r[by] for r in rows)
    assert as_tuples(rows, by) == expected(spend, by, tz)
    assert all(isinstance(r["cost_usd"], Decimal) for r in rows)
    total = sum((r["cost_usd"] for r in rows), Decimal(0))
    assert total == Decimal("100001.5520678901")


async def test_summarise_since_leaves_older_rows_out(db: Database, spend: list[uuid.UUID]) -> None:
    since = _at(2026, 2, 1, 0, 0)
    async with db.sessions() as session:
        rows = await costs.summarise(session, by="agent", since=since)
    assert as_tuples(rows, "agent") == expected(spend, "agent", UTC, since)
    assert "parser" not in {r["agent"] for r in rows}


_SQL_KEY = {
    "task": "coalesce(CAST(task_id AS text), '(deleted task)')",
    "agent": "agent_type",
    "model": "provider || '/' || model",
    "day": "to_char(created_at AT TIME ZONE :tz, 'YYYY-MM-DD')",
    "week": "to_char(created_at AT TIME ZONE :tz, 'IYYY-\"W\"IW')",
    "month": "to_char(created_at AT TIME ZONE :tz, 'YYYY-MM')",
}


async def sql_summary(db: Database, by: str, tz: str) -> dict[str, tuple[Any, ...]]:
    """The same figures computed by PostgreSQL itself (NUMERIC sums, its own calendar)."""
    query = text(
        f"SELECT {_SQL_KEY[by]} AS k, count(*), sum(tokens_in), sum(tokens_out), "
        "coalesce(sum(cost_usd_e10), 0) / 10000000000.0, count(*) FILTER (WHERE cost_usd_e10 IS NULL) "
        "FROM cost_records GROUP BY 1"
    )
    async with db.sessions() as session:
        result = await session.execute(query, {"tz": tz} if ":tz" in _SQL_KEY[by] else {})
        return {
            row[0]: (int(row[1]), int(row[2]), int(row[3]), row[4], int(row[5])) for row in result
        }


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"])
@pytest.mark.parametrize("by", GROUPINGS)
@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
async def test_summarise_equals_postgresql_own_sums(
    db: Database, spend: list[uuid.UUID], by: str, zone: str
) -> None:
    async with db.sessions() as session:
        rows = await costs.summarise(session, by=by, tz=zoneinfo.ZoneInfo(zone))  # type: ignore[arg-type]
    assert as_tuples(rows, by) == await sql_summary(db, by, zone)
