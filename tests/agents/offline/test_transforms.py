"""Deduplicate, filter, aggregate and join on seeded tables; results checked against Python."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import duckdb
import pytest

from tests.agents.offline.pipeline import (
    assert_close,
    execute,
    grouped,
    latest_orders,
    read_csv,
    run_request,
    table,
    total,
)

# --- deduplicate ------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_text",
    [
        "Deduplicate raw_orders on order_id, keeping the latest by updated_at, into latest_orders",
        "keep the latest row per order_id by updated_at from raw_orders into latest_orders",
        "remove duplicates from raw_orders by order id keeping the newest, call it latest_orders",
    ],
)
async def test_dedupe_keeps_the_latest_version(
    seeded: duckdb.DuckDBPyConnection, request_text: str
) -> None:
    outcome = await run_request(request_text, seeded)

    execute(seeded, outcome)

    expected = {int(r["order_id"]): (r["status"], float(r["amount"])) for r in latest_orders()}
    rows = table(seeded, "latest_orders")
    assert len(rows) == len({r["order_id"] for r in read_csv("orders.csv")}) == 170
    assert {r["order_id"]: (r["status"], r["amount"]) for r in rows} == expected
    assert outcome.requirement.intent == "deduplicate"


async def test_dedupe_keeping_the_earliest(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request(
        "keep the earliest row per order_id by updated_at from raw_orders into first_orders", seeded
    )

    execute(seeded, outcome)

    expected = {int(r["order_id"]): r["updated_at"] for r in latest_orders(earliest=True)}
    rows = table(seeded, "first_orders")
    assert {r["order_id"]: str(r["updated_at"]) for r in rows} == expected


async def test_dedupe_whole_rows(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("remove duplicate rows from customers", seeded)

    rows = execute(seeded, outcome)

    assert outcome.requirement.target_table == "customers_dedup"
    assert "SELECT DISTINCT" in outcome.code.code
    assert len(rows) == 30


# --- filter ------------------------------------------------------------------------


Row = dict[str, str]


def _orders(predicate: Callable[[Row], bool]) -> int:
    return sum(1 for r in latest_orders() if predicate(r))


@pytest.mark.parametrize(
    ("request_text", "predicate"),
    [
        ("filter orders where amount > 100", lambda r: float(r["amount"]) > 100),
        (
            "Keep rows from orders with status = 'shipped' and amount >= 250 into big_shipped",
            lambda r: r["status"] == "shipped" and float(r["amount"]) >= 250,
        ),
        (
            "exclude rows from orders where status is cancelled, call it active_orders",
            lambda r: r["status"] != "cancelled",
        ),
        (
            "orders where amount between 100 and 200 into mid_orders",
            lambda r: 100 <= float(r["amount"]) <= 200,
        ),
        (
            "only orders whose region in ('EMEA', 'APAC') and order date is on or after 2024-03-15",
            lambda r: r["region"] in ("EMEA", "APAC") and r["order_date"] >= "2024-03-15",
        ),
        (
            'select orders with status equals "delivered" and amount is less than 50',
            lambda r: r["status"] == "delivered" and float(r["amount"]) < 50,
        ),
        ("filter orders where customer_id is null into orphans", lambda r: False),
    ],
)
async def test_filters(
    seeded: duckdb.DuckDBPyConnection, request_text: str, predicate: Callable[[Row], bool]
) -> None:
    outcome = await run_request(request_text, seeded)

    rows = execute(seeded, outcome)

    assert outcome.requirement.intent == "filter"
    assert len(rows) == _orders(predicate)


# --- aggregate ---------------------------------------------------------------------


def _day(value: object) -> str:
    assert isinstance(value, dt.date)
    return value.isoformat()


async def test_daily_revenue_by_region(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request(
        "Compute daily revenue by region from orders into daily_rev", seeded
    )

    execute(seeded, outcome)

    rows = table(seeded, "daily_rev")
    actual = {(_day(r["order_day"]), r["region"]): r["revenue"] for r in rows}
    expected = grouped(latest_orders(), lambda r: (r["order_date"], r["region"]), total)
    assert_close(actual, expected)
    assert "date_trunc('day'" in outcome.code.code


async def test_monthly_revenue_default_name(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("monthly revenue per region for orders", seeded)

    execute(seeded, outcome)

    assert outcome.requirement.target_table == "orders_by_month_region"
    rows = table(seeded, "orders_by_month_region")
    actual = {(_day(r["order_month"]), r["region"]): r["revenue"] for r in rows}
    expected = grouped(latest_orders(), lambda r: (r["order_date"][:7] + "-01", r["region"]), total)
    assert_close(actual, expected)


@pytest.mark.parametrize(
    ("request_text", "key", "columns", "measure"),
    [
        ("count orders by status", ("status",), ("order_count",), len),
        (
            "number of distinct customers per region in orders",
            ("region",),
            ("unique_customers",),
            lambda rows: len({r["customer_id"] for r in rows}),
        ),
        (
            "calculate the max amount per region from orders",
            ("region",),
            ("max_amount",),
            lambda rows: max(float(r["amount"]) for r in rows),
        ),
        (
            "group orders by region and status with sum of amount",
            ("region", "status"),
            ("total_amount",),
            total,
        ),
        (
            "average amount by customer for orders",
            ("customer_id",),
            ("avg_amount",),
            lambda rows: total(rows) / len(rows),
        ),
    ],
)
async def test_aggregations(
    seeded: duckdb.DuckDBPyConnection,
    request_text: str,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    measure: Callable[[list[Row]], float],
) -> None:
    outcome = await run_request(request_text, seeded)

    execute(seeded, outcome)

    rows = table(seeded, outcome.requirement.target_table or "")
    actual = {tuple(str(r[k]) for k in key): r[columns[0]] for r in rows}
    expected = grouped(latest_orders(), lambda r: tuple(r[k] for k in key), measure)
    assert_close(actual, expected)
    assert outcome.requirement.intent == "aggregate"


async def test_two_measures_and_a_grain_in_the_groups(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request(
        "compute total amount and count of orders by region and week from orders into weekly",
        seeded,
    )

    execute(seeded, outcome)

    rows = table(seeded, "weekly")
    assert list(rows[0]) == ["order_week", "region", "total_amount", "order_count"]
    assert sum(r["order_count"] for r in rows) == 170
    assert abs(sum(r["total_amount"] for r in rows) - total(latest_orders())) < 1e-6


async def test_overall_total(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("compute total revenue from orders into total_revenue", seeded)

    rows = execute(seeded, outcome)

    assert len(rows) == 1
    assert abs(rows[0][0] - total(latest_orders())) < 1e-6


# --- join --------------------------------------------------------------------------


async def test_enrich_infers_the_key_and_renames_clashes(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("Enrich orders with customers into orders_customers", seeded)

    execute(seeded, outcome)

    customers = {int(c["customer_id"]): c for c in read_csv("customers.csv")}
    rows = table(seeded, "orders_customers")
    assert len(rows) == 170
    assert all(r["segment"] == customers[r["customer_id"]]["segment"] for r in rows)
    assert "customers_updated_at" in rows[0]  # customers.updated_at no longer clashes
    assert outcome.requirement.operations[0].model_dump()["how"] == "left"


@pytest.mark.parametrize(
    "request_text",
    [
        "join orders with products on product_id",
        "inner join orders and products using product_id = product_id into op",
    ],
)
async def test_join_on_explicit_keys(seeded: duckdb.DuckDBPyConnection, request_text: str) -> None:
    outcome = await run_request(request_text, seeded)

    rows = execute(seeded, outcome)

    products = {int(p["product_id"]) for p in read_csv("orders.csv")}
    assert len(rows) == 170
    assert products  # every order's product exists in the dimension
    names = [
        d[0] for d in seeded.execute(f"DESCRIBE {outcome.requirement.target_table}").fetchall()
    ]
    assert names.count("product_id") == 1
    assert "product_name" in names
