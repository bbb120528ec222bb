"""Multi-step pipelines compiled into one statement, and the read-only commands."""

from __future__ import annotations

from typing import Any

import duckdb
import pytest

from aadap.agents import check_syntax
from aadap.core.enums import Language, PlatformKind
from tests.agents.offline.pipeline import (
    DATA,
    assert_close,
    execute,
    grouped,
    latest_orders,
    read_csv,
    run_request,
    table,
    total,
)

# --- chains ------------------------------------------------------------------------


async def test_load_dedupe_aggregate_is_one_statement(duck: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request(
        "Load data/orders.csv, deduplicate on order_id keeping the latest by updated_at,"
        " then write daily revenue by region into daily_from_file",
        duck,
    )

    execute(duck, outcome)

    code = outcome.code.code
    assert code.startswith("CREATE TABLE daily_from_file AS\nWITH deduplicated AS (")
    assert check_syntax(code, Language.SQL, PlatformKind.LOCAL).ok
    assert outcome.requirement.intent == "transform"
    assert [op.kind for op in outcome.requirement.operations] == ["deduplicate", "aggregate"]
    assert outcome.plan.optimise is True
    assert outcome.optimisation.changed is True  # reformatted by sqlglot; executed above
    rows = table(duck, "daily_from_file")
    actual = {(r["order_day"].isoformat(), r["region"]): r["revenue"] for r in rows}
    expected = grouped(latest_orders(), lambda r: (r["order_date"], r["region"]), total)
    assert_close(actual, expected)


def _rounded(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


async def test_optimised_and_original_code_give_the_same_rows(
    duck: duckdb.DuckDBPyConnection,
) -> None:
    text = "load orders.csv, dedupe on order_id keeping the latest, then total amount by region"
    outcome = await run_request(text, duck)

    original = duck.execute(outcome.code.code.replace("orders_by_region", "a")).fetchall()
    optimised = duck.execute(outcome.optimisation.code.replace("orders_by_region", "b")).fetchall()

    assert outcome.optimisation.changed
    # DuckDB sums doubles in parallel, in no fixed order: equal up to rounding, not bit for bit
    assert _rounded(original) == _rounded(optimised)
    assert _rounded(duck.execute("SELECT * FROM a").fetchall()) == _rounded(
        duck.execute("SELECT * FROM b").fetchall()
    )
    actual = dict(duck.execute("SELECT region, total_amount FROM a").fetchall())
    expected = {
        k[0]: v for k, v in grouped(latest_orders(), lambda r: (r["region"],), total).items()
    }
    assert_close(actual, expected)


async def test_filter_join_aggregate_replacing(seeded: duckdb.DuckDBPyConnection) -> None:
    seeded.execute("CREATE TABLE segment_revenue AS SELECT 1 AS stale")
    outcome = await run_request(
        "Load data/orders.csv as stage, then keep rows where status is not cancelled, join with"
        " customers, then compute revenue per segment into segment_revenue, replacing it",
        seeded,
    )

    execute(seeded, outcome)

    assert outcome.code.code.startswith("CREATE OR REPLACE TABLE segment_revenue AS")
    assert any("stage names an intermediate step" in a for a in outcome.requirement.assumptions)
    assert any("CREATE OR REPLACE" in f.message for f in outcome.review.findings)
    segments = {c["customer_id"]: c["segment"] for c in read_csv("customers.csv")}
    live = [r for r in read_csv("orders.csv") if r["status"] != "cancelled"]
    expected = grouped(live, lambda r: (segments[r["customer_id"]],), total)
    actual = {(r["segment"],): r["revenue"] for r in table(seeded, "segment_revenue")}
    assert_close(actual, expected)


# --- preview, profile, list, run ------------------------------------------------------


@pytest.mark.parametrize(
    ("request_text", "count"),
    [
        ("Show me the first 5 rows of orders", 5),
        ("preview data/events.json", 10),
        ("peek at the first twenty rows of customers", 20),
        ("top 3 rows from orders where region = 'EMEA'", 3),
    ],
)
async def test_preview(seeded: duckdb.DuckDBPyConnection, request_text: str, count: int) -> None:
    outcome = await run_request(request_text, seeded)

    rows = execute(seeded, outcome)

    assert outcome.requirement.intent == "preview"
    assert outcome.requirement.target_table is None
    assert outcome.plan.target_tables == []
    assert len(rows) == count
    assert outcome.code.code.endswith(f"LIMIT {count}")


async def test_preview_with_a_filter_returns_matching_rows(
    seeded: duckdb.DuckDBPyConnection,
) -> None:
    outcome = await run_request("top 3 rows from orders where region = 'EMEA'", seeded)

    rows = execute(seeded, outcome)

    assert all(row[2] == "EMEA" for row in rows)


@pytest.mark.parametrize(
    ("request_text", "columns"),
    [
        ("Profile the orders table", 8),
        ("summarize data/orders.csv", 8),
        ("describe stats of customers", 6),
        ("get statistics for products", 4),
    ],
)
async def test_profile(seeded: duckdb.DuckDBPyConnection, request_text: str, columns: int) -> None:
    outcome = await run_request(request_text, seeded)

    rows = execute(seeded, outcome)

    assert outcome.code.code.startswith("SUMMARIZE")
    assert len(rows) == columns  # one row of statistics per column


@pytest.mark.parametrize(
    "request_text",
    ["list tables", "Show me all the tables", "What tables are there?", "which tables exist"],
)
async def test_list_tables(seeded: duckdb.DuckDBPyConnection, request_text: str) -> None:
    outcome = await run_request(request_text, seeded)

    rows = execute(seeded, outcome)

    assert {row[1] for row in rows} == {"raw_orders", "orders", "customers", "products"}


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("run: SELECT 42 AS answer", [(42,)]),
        ("execute `SELECT count(*) FROM orders`", [(170,)]),
        (
            "Run this SQL:\n```sql\nSELECT region FROM orders GROUP BY region ORDER BY region\n```",
            [("AMER",), ("APAC",), ("EMEA",)],
        ),
        ("please execute the following query: SELECT 'it''s' AS s", [("it's",)]),
    ],
)
async def test_run_given_sql(
    seeded: duckdb.DuckDBPyConnection, request_text: str, expected: list[tuple[object, ...]]
) -> None:
    outcome = await run_request(request_text, seeded)

    assert outcome.requirement.intent == "run_sql"
    assert execute(seeded, outcome) == expected
    assert outcome.code.code == outcome.requirement.sql


async def test_file_paths_in_sql_are_absolute(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("preview data/events.json", seeded)

    assert f"'{DATA / 'events.json'}'" in outcome.code.code
