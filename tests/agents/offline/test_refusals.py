"""A refusal names the part not understood and suggests phrasings that work.

The suggestions are not just text: each one is run through the provider and its result
checked against values computed in plain Python, as in the paraphrase corpus.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter
from collections.abc import Iterator

import duckdb
import pytest

from aadap.core.exceptions import DataFileNotFoundError, LLMUnsupportedRequestError
from tests.agents.offline.paraphrases.reference import HERE, Rows, norm, whole
from tests.agents.offline.paraphrases.runner import seed
from tests.agents.offline.pipeline import execute, run_request, table


@pytest.fixture
def shop() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        seed(con)
        yield con


async def refusal(text: str, con: duckdb.DuckDBPyConnection) -> LLMUnsupportedRequestError:
    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request(text, con, working_dir=HERE)
    return caught.value


async def written(text: str, con: duckdb.DuckDBPyConnection, expected: Rows) -> None:
    """``text`` is understood and writes exactly the ``expected`` rows."""
    outcome = await run_request(text, con, working_dir=HERE)
    execute(con, outcome)
    target = outcome.requirement.target_table
    assert target is not None
    rows = table(con, target)
    assert Counter(tuple(norm(v) for v in row.values()) for row in rows) == expected.rows


async def test_the_refusal_names_the_word_not_the_clause(shop: duckdb.DuckDBPyConnection) -> None:
    error = await refusal("keep only the paid purchases and save them as paid_purchases", shop)

    assert error.details["not_understood"] == "paid"
    assert "cannot understand 'paid'" in error.message
    assert error.details["suggestions"] == [
        "keep purchases where status = 'paid' into paid_purchases"
    ]
    assert "Did you mean: \"keep purchases where status = 'paid' into paid_purchases\"?" in (
        error.message
    )
    assert "AADAP_LLM_PROVIDER=openai" in error.message  # the way beyond the grammar stays
    await written(
        error.details["suggestions"][0], shop, whole("purchases", lambda r: r["status"] == "paid")
    )


async def test_an_ambiguous_measure_suggests_each_candidate(
    shop: duckdb.DuckDBPyConnection,
) -> None:
    error = await refusal("books above 300 into big_books", shop)

    assert error.details["candidates"] == ["pages", "price"]
    assert error.details["not_understood"] == "above 300"
    assert error.details["suggestions"] == [
        "keep books where pages > 300 into big_books",
        "keep books where price > 300 into big_books",
    ]
    await written(
        error.details["suggestions"][0], shop, whole("books", lambda r: int(r["pages"]) > 300)
    )


async def test_an_unknown_column_suggests_the_close_one(shop: duckdb.DuckDBPyConnection) -> None:
    error = await refusal("clients whose signup is after 2023-06-01 into recent_clients", shop)

    assert error.details["not_understood"] == "signup"
    (suggestion,) = error.details["suggestions"]
    assert suggestion == "clients whose signup_date is after 2023-06-01 into recent_clients"
    await written(suggestion, shop, whole("clients", lambda r: r["signup_date"] > "2023-06-01"))


async def test_a_recognised_file_is_suggested_as_a_load(shop: duckdb.DuckDBPyConnection) -> None:
    error = await refusal("Load data/clients.csv and email it to finance", shop)

    assert error.details["not_understood"] == "email … finance"
    assert error.details["suggestions"] == ["load data/clients.csv into clients"]


async def test_nothing_recognised_suggests_listing_the_tables(
    shop: duckdb.DuckDBPyConnection,
) -> None:
    error = await refusal("build me a Kafka streaming pipeline", shop)

    assert error.details["not_understood"] == "Kafka streaming pipeline"
    assert error.details["suggestions"][0] == "list tables"
    assert 1 <= len(error.details["suggestions"]) <= 3


@pytest.mark.parametrize(
    ("text", "part"),
    [
        ("count purchases by status then send it to slack", "send … slack"),  # mixed
        ("Zeige mir die ersten 5 Zeilen von purchases", "Zeige mir die ersten … Zeilen von"),
        ("montre-moi les clients", "montre-moi les"),
    ],
)
async def test_other_languages_and_mixed_requests_name_the_part(
    shop: duckdb.DuckDBPyConnection, text: str, part: str
) -> None:
    error = await refusal(text, shop)

    assert error.details["not_understood"] == part
    assert f"cannot understand {part!r}" in error.message
    assert 1 <= len(error.details["suggestions"]) <= 3


async def test_a_100_kb_request_is_refused_fast(shop: duckdb.DuckDBPyConnection) -> None:
    text = "keep purchases where amount > 10 " + "and status = 'paid' " * 5000

    started = time.perf_counter()
    error = await refusal(text, shop)
    elapsed = time.perf_counter() - started

    assert len(text) > 100_000
    assert elapsed < 2.0
    assert "reads at most 2000" in error.message
    assert len(error.message) < 2000  # the request is quoted, not echoed whole


@pytest.mark.parametrize(
    "unit",
    ["load data/clients.csv, ", "(", "x.csv ", "purchases of ", "1,000 ", "keep the latest "],
)
async def test_the_longest_readable_requests_finish_fast(
    shop: duckdb.DuckDBPyConnection, unit: str
) -> None:
    text = (unit * (2000 // len(unit) + 1))[:2000]

    started = time.perf_counter()
    # a clear refusal; a run of file names ends as the data error of a file that is not there
    with pytest.raises((LLMUnsupportedRequestError, DataFileNotFoundError)):
        await run_request(text, shop, working_dir=HERE)

    assert time.perf_counter() - started < 2.0


async def test_the_refusal_pickles_with_its_suggestions(shop: duckdb.DuckDBPyConnection) -> None:
    error = await refusal("keep only the paid purchases", shop)

    copy = pickle.loads(pickle.dumps(error))

    assert copy.details == error.details
    assert copy.message == error.message


@pytest.mark.parametrize(
    "text",
    [
        "clients whose client_id appears in purchases with status paid into payers",
        "keep the clients of purchases whose status is paid",
    ],
)
async def test_a_semi_join_that_would_repeat_rows_is_refused(
    shop: duckdb.DuckDBPyConnection, text: str
) -> None:
    error = await refusal(text, shop)

    assert "does not identify one row of purchases" in error.message
    assert error.details["not_understood"] == "client_id … in purchases"
    (suggestion,) = error.details["suggestions"]
    assert suggestion.startswith("keep purchases where status ")
    await written(suggestion, shop, whole("purchases", lambda r: r["status"] == "paid"))
