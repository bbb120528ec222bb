"""Helpers: run every agent with the offline provider, execute the result on DuckDB.

The reference values the tests compare against are computed here in plain Python
from the CSV files, independently of DuckDB and of the code under test.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from aadap.agents import (
    AgentContext,
    GeneratedCode,
    Optimisation,
    Plan,
    Requirement,
    Review,
    Route,
    develop_code,
    optimise_code,
    parse_request,
    plan_work,
    review_code,
    route_work,
)
from aadap.agents.offline import OfflineLLMClient
from aadap.core.enums import PlatformKind

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DATA = EXAMPLES / "data"


@dataclass
class Outcome:
    requirement: Requirement
    plan: Plan
    route: Route
    code: GeneratedCode
    review: Review
    optimisation: Optimisation


def schema_hints(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """What the lifecycle passes to the agents: the tables on the target and their columns."""
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns"
        " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall()
    hints: dict[str, list[str]] = defaultdict(list)
    for table, column in rows:
        hints[str(table)].append(str(column))
    return dict(hints)


async def run_request(
    text: str,
    con: duckdb.DuckDBPyConnection,
    *,
    working_dir: Path = EXAMPLES,
    platform: PlatformKind = PlatformKind.LOCAL,
    feedback: list[str] | None = None,
) -> Outcome:
    client = OfflineLLMClient()
    ctx = AgentContext(
        request_text=text,
        platform=platform,
        working_dir=working_dir,
        schema_hints=schema_hints(con),
        feedback=feedback or [],
    )
    requirement = await parse_request(client, ctx)
    plan = await plan_work(client, ctx, requirement)
    route = await route_work(client, ctx, requirement, plan)
    code = await develop_code(client, ctx, requirement, plan, route)
    review = await review_code(client, ctx, requirement, code)
    optimisation = await optimise_code(client, ctx, plan, code)
    return Outcome(requirement, plan, route, code, review, optimisation)


def execute(con: duckdb.DuckDBPyConnection, outcome: Outcome) -> list[tuple[Any, ...]]:
    """Run the final (optimised) code; return the rows of a query, or of the table written."""
    assert outcome.review.passed, outcome.review
    result = con.execute(outcome.optimisation.code)
    target = outcome.requirement.target_table
    if target is None:
        return result.fetchall()
    return con.execute(f'SELECT * FROM "{target}"').fetchall()


def table(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    cursor = con.execute(f'SELECT * FROM "{name}"')
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


# --- reference computations (plain Python over the CSV files) -----------------


def read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def latest_orders(*, earliest: bool = False) -> list[dict[str, str]]:
    chosen: dict[str, dict[str, str]] = {}
    for row in read_csv("orders.csv"):
        kept = chosen.get(row["order_id"])
        newer = kept is None or (
            row["updated_at"] < kept["updated_at"]
            if earliest
            else row["updated_at"] > kept["updated_at"]
        )
        if newer:
            chosen[row["order_id"]] = row
    return list(chosen.values())


def grouped(
    rows: Iterable[dict[str, str]],
    key: Callable[[dict[str, str]], tuple[Any, ...]],
    measure: Callable[[list[dict[str, str]]], float | int],
) -> dict[tuple[Any, ...], float | int]:
    groups: dict[tuple[Any, ...], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return {k: measure(v) for k, v in groups.items()}


def total(rows: list[dict[str, str]], column: str = "amount") -> float:
    return sum(float(r[column]) for r in rows)


def assert_close(actual: dict[Any, Any], expected: dict[Any, Any]) -> None:
    assert set(actual) == set(expected)
    for key, value in expected.items():
        assert abs(float(actual[key]) - float(value)) < 1e-6, (key, actual[key], value)
