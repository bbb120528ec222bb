"""Wordings found wrong or refused after the corpus was written, checked by their results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import duckdb
import pytest

from tests.llm_offline.paraphrases.reference import HERE, norm, rows, whole
from tests.llm_offline.paraphrases.runner import seed
from tests.llm_offline.pipeline import execute, run_request, table


@pytest.fixture
def shop() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        seed(con)
        yield con


async def result(
    text: str, con: duckdb.DuckDBPyConnection
) -> tuple[str, Counter[tuple[object, ...]]]:
    outcome = await run_request(text, con, working_dir=HERE)
    execute(con, outcome)
    target = outcome.requirement.target_table
    assert target is not None
    got = Counter(tuple(norm(v) for v in row.values()) for row in table(con, target))
    return target, got


@pytest.mark.parametrize(
    "text", ["count distinct members in loans into n", "number of unique member in loans into n"]
)
async def test_count_distinct_without_of_counts_distinct_values(
    shop: duckdb.DuckDBPyConnection, text: str
) -> None:
    _, got = await result(text, shop)

    assert got == Counter([(norm(len({r["member"] for r in rows("loans")})),)])  # not count(*)


async def test_an_explicit_target_wins_over_the_data_label() -> None:
    with duckdb.connect() as con:
        target, got = await result(
            "Please ingest the loans data from data/loans.csv into loans_raw", con
        )

    assert target == "loans_raw"
    assert got == whole("loans").rows


@pytest.mark.parametrize(
    "text",
    ["give me purchases over 500 euros into big", "show purchases above €500 into big"],
)
async def test_money_comparisons_use_the_money_column(
    shop: duckdb.DuckDBPyConnection, text: str
) -> None:
    _, got = await result(text, shop)

    assert got == whole("purchases", lambda r: float(r["amount"]) > 500).rows


async def test_peek_into_is_a_preview_not_a_target(shop: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("peek into books", shop, working_dir=HERE)

    assert outcome.requirement.intent == "preview"
    assert len(execute(shop, outcome)) == 10
