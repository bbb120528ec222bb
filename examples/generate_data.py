"""Regenerate the example dataset under ``examples/data/`` (deterministic).

    python examples/generate_data.py

orders.csv has order_id duplicates (later versions of an order, with a newer
``updated_at``); products.parquet is written by DuckDB's ``COPY … (FORMAT parquet)``
from rows built here (a ~2 KB file, committed so that the examples need no step).
"""

from __future__ import annotations

import csv
import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

DATA = Path(__file__).resolve().parent / "data"
REGIONS = ("EMEA", "AMER", "APAC")
STATUSES = ("pending", "shipped", "delivered", "cancelled")
SEGMENTS = ("consumer", "smb", "enterprise")
COUNTRIES = {"EMEA": ("DE", "FR", "UK"), "AMER": ("US", "CA", "BR"), "APAC": ("JP", "AU", "SG")}
CATEGORIES = ("hardware", "software", "services")
# Naive local timestamps on purpose: the files hold plain "YYYY-MM-DD HH:MM:SS" values.
CUSTOMERS_SINCE = datetime(2024, 1, 1, 9)  # noqa: DTZ001
EVENTS_SINCE = datetime(2024, 3, 1, 8)  # noqa: DTZ001


def customers(rng: random.Random) -> list[dict[str, object]]:
    rows = []
    for n in range(1, 31):
        region = REGIONS[n % 3]
        rows.append(
            {
                "customer_id": n,
                "customer_name": f"Customer {n:02d}",
                "email": f"customer{n:02d}@example.com",
                "segment": rng.choice(SEGMENTS),
                "country": rng.choice(COUNTRIES[region]),
                "updated_at": CUSTOMERS_SINCE + timedelta(days=rng.randint(0, 60)),
            }
        )
    return rows


def products(rng: random.Random) -> list[dict[str, object]]:
    return [
        {
            "product_id": n,
            "product_name": f"Product {n:02d}",
            "category": CATEGORIES[n % 3],
            "unit_price": round(rng.uniform(5, 400), 2),
        }
        for n in range(1, 16)
    ]


def orders(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for order_id in range(1001, 1171):  # 170 distinct orders
        ordered = date(2024, 3, 1) + timedelta(days=rng.randint(0, 30))
        updated = datetime.combine(ordered, datetime.min.time()) + timedelta(
            hours=rng.randint(1, 12)
        )
        rows.append(
            {
                "order_id": order_id,
                "order_date": ordered,
                "region": rng.choice(REGIONS),
                "customer_id": rng.randint(1, 30),
                "product_id": rng.randint(1, 15),
                "amount": round(rng.uniform(10, 500), 2),
                "status": rng.choice(STATUSES[:3]),
                "updated_at": updated,
            }
        )
    for original in rng.sample(rows, 30):  # 30 later versions of existing orders
        last_update = original["updated_at"]
        amount = original["amount"]
        assert isinstance(last_update, datetime) and isinstance(amount, float)
        later = dict(original)
        later["updated_at"] = last_update + timedelta(days=rng.randint(1, 5))
        later["status"] = rng.choice(("shipped", "delivered", "cancelled"))
        later["amount"] = round(amount * rng.choice((1.0, 1.1, 0.9)), 2)
        rows.append(later)
    rng.shuffle(rows)
    return rows


def events(rng: random.Random) -> list[dict[str, object]]:
    kinds = ("page_view", "add_to_cart", "checkout", "login")
    start = EVENTS_SINCE
    return [
        {
            "event_id": n,
            "event_time": (start + timedelta(minutes=rng.randint(0, 60 * 24 * 30))).isoformat(),
            "customer_id": rng.randint(1, 30),
            "event_type": rng.choice(kinds),
            "page": rng.choice(("/", "/products", "/cart", "/checkout", "/account")),
        }
        for n in range(1, 81)
    ]


def write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: v.isoformat(sep=" ") if isinstance(v, datetime) else v for k, v in row.items()}
            )


def main() -> None:
    rng = random.Random(20240301)
    DATA.mkdir(exist_ok=True)
    write_csv(DATA / "customers.csv", customers(rng))
    write_csv(DATA / "orders.csv", orders(rng))
    with (DATA / "events.json").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(event) + "\n" for event in events(rng))
    rows = products(rng)
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE products (product_id INTEGER, product_name VARCHAR,"
            " category VARCHAR, unit_price DECIMAL(10, 2))"
        )
        con.executemany(
            "INSERT INTO products VALUES (?, ?, ?, ?)", [tuple(r.values()) for r in rows]
        )
        con.execute("COPY products TO ? (FORMAT parquet)", [str(DATA / "products.parquet")])


if __name__ == "__main__":
    main()
