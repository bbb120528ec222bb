"""Every shipped example, in order, end to end on one fresh DuckDB database."""

from __future__ import annotations

import duckdb

from aadap.agents import load_examples
from tests.agents.offline.pipeline import (
    EXAMPLES,
    assert_close,
    execute,
    grouped,
    latest_orders,
    read_csv,
    run_request,
    table,
    total,
)


async def test_all_examples_run_in_sequence(duck: duckdb.DuckDBPyConnection) -> None:
    examples = load_examples(EXAMPLES)
    results = {}
    for example in examples:
        outcome = await run_request(example.request, duck)
        assert outcome.review.passed, (example.name, outcome.review)
        results[example.name] = execute(duck, outcome)

    assert len(examples) >= 8
    assert len(table(duck, "raw_orders")) == 200
    assert len(table(duck, "orders")) == len({r["order_id"] for r in read_csv("orders.csv")})
    daily = {
        (r["order_day"].isoformat(), r["region"]): r["revenue"]
        for r in table(duck, "daily_revenue")
    }
    assert_close(daily, grouped(latest_orders(), lambda r: (r["order_date"], r["region"]), total))
    assert len(table(duck, "orders_enriched")) == 170
    big = [r for r in latest_orders() if r["status"] == "shipped" and float(r["amount"]) > 100]
    assert len(table(duck, "big_shipped_orders")) == len(big)
    assert len(results["preview-revenue"]) == 5
    assert len(results["profile-orders"]) == 8
    assert len(table(duck, "products")) == 15
    assert len(table(duck, "events")) == 80
    segment = table(duck, "segment_category_revenue")
    assert sum(r["order_count"] for r in segment) == 170
    assert abs(sum(r["revenue"] for r in segment) - total(latest_orders())) < 1e-6
    monthly = table(duck, "monthly_revenue")
    assert abs(sum(r["revenue"] for r in monthly) - total(latest_orders())) < 1e-6
    assert sum(n for _, n in results["orders-per-region"]) == 170
    listed = {row[1] for row in results["list-tables"]}
    assert {"raw_orders", "orders", "daily_revenue", "customers", "orders_enriched",
            "big_shipped_orders", "products", "events", "segment_category_revenue",
            "monthly_revenue"} <= listed  # fmt: skip
