"""Fresh DuckDB databases, empty or seeded with the example tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.agents.offline.pipeline import DATA


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """An empty DuckDB database file in a temporary directory."""
    con = duckdb.connect(str(tmp_path / "local.duckdb"))
    yield con
    con.close()


@pytest.fixture
def seeded(duck: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """raw_orders (as in the file), orders (latest version per order), customers, products.

    Seeded with hand-written SQL, independent of the code under test.
    """
    orders = str(DATA / "orders.csv").replace("'", "''")
    duck.execute(f"CREATE TABLE raw_orders AS SELECT * FROM read_csv_auto('{orders}')")
    duck.execute(
        "CREATE TABLE orders AS SELECT * FROM raw_orders QUALIFY row_number()"
        " OVER (PARTITION BY order_id ORDER BY updated_at DESC) = 1"
    )
    customers = str(DATA / "customers.csv").replace("'", "''")
    duck.execute(f"CREATE TABLE customers AS SELECT * FROM read_csv_auto('{customers}')")
    products = str(DATA / "products.parquet").replace("'", "''")
    duck.execute(f"CREATE TABLE products AS SELECT * FROM read_parquet('{products}')")
    return duck
