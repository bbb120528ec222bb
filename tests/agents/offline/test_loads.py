"""Loading files, with varied phrasing, into a fresh DuckDB database."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from tests.agents.offline.pipeline import DATA, EXAMPLES, execute, read_csv, run_request, table


@pytest.mark.parametrize(
    ("request_text", "target", "source"),
    [
        ("Load data/orders.csv into staged_orders", "staged_orders", "orders.csv"),
        ("import customers.csv", "customers", "customers.csv"),  # found under data/
        (
            "copy data/customers.csv to a table called customer_copy",
            "customer_copy",
            "customers.csv",
        ),
        ("please read the file data/orders.csv and call it o2", "o2", "orders.csv"),
    ],
)
async def test_load_csv(
    duck: duckdb.DuckDBPyConnection, request_text: str, target: str, source: str
) -> None:
    outcome = await run_request(request_text, duck)

    rows = execute(duck, outcome)

    expected = read_csv(source)
    assert outcome.requirement.intent == "load_file"
    assert outcome.requirement.target_table == target
    assert len(rows) == len(expected)
    assert [d[0] for d in duck.execute(f"DESCRIBE {target}").fetchall()] == list(expected[0])
    assert f"read_csv_auto('{DATA / source}')" in outcome.code.code  # absolute path
    assert outcome.code.reads == [str(DATA / source)]
    assert outcome.plan.optimise is False


async def test_load_parquet(duck: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("Bring in data/products.parquet as product_dim", duck)

    execute(duck, outcome)

    rows = table(duck, "product_dim")
    assert len(rows) == 15
    assert "read_parquet(" in outcome.code.code
    assert {r["category"] for r in rows} == {"hardware", "software", "services"}


async def test_load_json_lines(duck: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("pull in data/events.json", duck)

    execute(duck, outcome)

    lines = (DATA / "events.json").read_text().splitlines()
    expected = [json.loads(line) for line in lines]
    rows = table(duck, "events")  # the default name: the file's stem
    assert "read_json_auto(" in outcome.code.code
    assert len(rows) == len(expected)
    assert sorted(r["event_type"] for r in rows) == sorted(e["event_type"] for e in expected)
    assert any("No target table was named" in a for a in outcome.requirement.assumptions)


async def test_load_with_a_path_relative_to_a_subdirectory(duck: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("ingest orders.csv as o", duck, working_dir=EXAMPLES / "data")

    assert len(execute(duck, outcome)) == 200


async def test_file_with_a_quote_in_its_path(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    odd = tmp_path / "it's here"
    odd.mkdir()
    (odd / "tiny.csv").write_text("id,label\n1,a\n2,b\n")

    outcome = await run_request('load "it\'s here/tiny.csv" into tiny', duck, working_dir=tmp_path)

    assert "it''s here" in outcome.code.code  # escaped, not concatenated raw
    assert execute(duck, outcome) == [(1, "a"), (2, "b")]


async def test_header_names_with_spaces_are_resolved_and_quoted(
    duck: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "odd.csv").write_text(
        "Order ID,Order Date,Total Amount\n1,2024-01-01,10\n1,2024-01-01,10\n2,2024-01-02,5\n"
    )

    outcome = await run_request(
        "load odd.csv, dedupe on order id, then daily total amount by order date into t",
        duck,
        working_dir=tmp_path,
    )

    assert 'PARTITION BY "Order ID"' in outcome.code.code
    assert execute(duck, outcome) == [
        (dt.date(2024, 1, 1), 10),
        (dt.date(2024, 1, 2), 5),
    ]
