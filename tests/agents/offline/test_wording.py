"""Wordings found wrong or refused after the corpus was written, checked by their results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import duckdb
import pytest

from aadap.core.exceptions import LLMUnsupportedRequestError
from tests.agents.offline.paraphrases.reference import HERE, norm, rows, whole
from tests.agents.offline.paraphrases.runner import seed
from tests.agents.offline.pipeline import execute, run_request, table


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


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("remove purchases under 50 into x", lambda r: not float(r["amount"]) < 50),
        ("purchases between 100 and 300 into x", lambda r: 100 <= float(r["amount"]) <= 300),
        (
            "keep purchases above 250 and below 1000 into x",
            lambda r: 250 < float(r["amount"]) < 1000,
        ),
    ],
)
async def test_implied_comparisons_negated_bounded_and_combined(
    shop: duckdb.DuckDBPyConnection, text: str, keep: Callable[[dict[str, str]], bool]
) -> None:
    _, got = await result(text, shop)

    assert got == whole("purchases", keep).rows


async def test_an_implied_between_names_its_candidates(shop: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request("books between 100 and 300 into x", shop, working_dir=HERE)

    assert caught.value.details["not_understood"] == "between 100 and 300"
    assert caught.value.details["suggestions"] == [
        "keep books where pages between 100 and 300 into x",
        "keep books where price between 100 and 300 into x",
    ]


async def test_a_phrase_is_not_taken_for_a_value(shop: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request("keep purchases whose amount is above the average into x", shop)

    assert "'the average' is not a value" in caught.value.message


async def test_a_preview_with_an_implied_comparison(shop: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("show me 5 purchases above 250", shop, working_dir=HERE)

    returned = execute(shop, outcome)
    assert len(returned) == 5
    assert all(row[3] > 250 for row in returned)


async def test_how_many_rows_are_there(shop: duckdb.DuckDBPyConnection) -> None:
    _, got = await result("How many purchases are there? Save it to x", shop)

    assert got == Counter([(norm(len(rows("purchases"))),)])


async def test_store_as_a_column_is_not_a_save_verb() -> None:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE sales (store VARCHAR, revenue DOUBLE)")
        con.execute("INSERT INTO sales VALUES ('N', 1.5), ('N', 2.0), ('S', 4.0)")
        outcome = await run_request(
            "What is the total revenue per store in sales? Save it to store_revenue", con
        )
        execute(con, outcome)

        assert outcome.requirement.target_table == "store_revenue"
        assert sorted(con.execute("SELECT * FROM store_revenue").fetchall()) == [
            ("N", 3.5),
            ("S", 4.0),
        ]


async def test_rows_with_more_than_n_related_rows(shop: duckdb.DuckDBPyConnection) -> None:
    counts = Counter(r["client_id"] for r in rows("purchases"))
    outcome = await run_request(
        "clients with more than 2 purchases into loyal", shop, working_dir=HERE
    )
    execute(shop, outcome)

    got = {norm(r["client_id"]): (r["purchase_count"], r["name"]) for r in table(shop, "loyal")}
    assert got == {
        norm(c["client_id"]): (counts[c["client_id"]], c["name"])
        for c in rows("clients")
        if counts[c["client_id"]] > 2
    }


async def test_values_with_at_least_n_rows(shop: duckdb.DuckDBPyConnection) -> None:
    counts = Counter(r["member"] for r in rows("loans"))
    outcome = await run_request("members with at least 3 loans", shop, working_dir=HERE)
    execute(shop, outcome)

    assert outcome.requirement.target_table == "member_loan_counts"
    got = {r["member"]: r["loan_count"] for r in table(shop, "member_loan_counts")}
    assert got == {member: n for member, n in counts.items() if n >= 3}


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("purchases after 2023 into x", lambda r: r["purchase_date"] >= "2024-01-01"),
        ("purchases made before 2024 into x", lambda r: r["purchase_date"] < "2024-01-01"),
        ("purchases since 2024 into x", lambda r: r["purchase_date"] >= "2024-01-01"),
    ],
)
async def test_a_year_after_a_time_word_is_a_date_range(
    shop: duckdb.DuckDBPyConnection, text: str, keep: Callable[[dict[str, str]], bool]
) -> None:
    _, got = await result(text, shop)  # never "amount > 2023"

    assert got == whole("purchases", keep).rows


async def test_a_verb_picks_its_date_column_or_is_refused(
    shop: duckdb.DuckDBPyConnection,
) -> None:
    _, got = await result("clients signed after 2023-06-01 into x", shop)
    assert got == whole("clients", lambda r: r["signup_date"] > "2023-06-01").rows

    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request("purchases shipped after 2024-02-01 into y", shop, working_dir=HERE)
    assert "no single date column says when the rows were shipped" in caught.value.message
    assert caught.value.details["suggestions"][0] == (
        "keep purchases where purchase_date > '2024-02-01' into y"
    )


@pytest.mark.parametrize("text", ["purchase_id in (101,102)", "purchase_id in 101,102"])
async def test_commas_in_a_list_are_not_thousands(
    shop: duckdb.DuckDBPyConnection, text: str
) -> None:
    _, got = await result(f"keep purchases where {text} into x", shop)

    assert got == whole("purchases", lambda r: r["purchase_id"] in ("101", "102")).rows


async def test_a_table_noun_in_a_measure_is_not_its_key(shop: duckdb.DuckDBPyConnection) -> None:
    _, got = await result("total amount of purchases by month into monthly", shop)

    monthly: dict[str, float] = {}
    for r in rows("purchases"):
        month = r["purchase_date"][:7] + "-01"
        monthly[month] = monthly.get(month, 0.0) + float(r["amount"])
    assert got == Counter((norm(m), norm(v)) for m, v in monthly.items())


async def test_the_one_table_that_has_the_columns(shop: duckdb.DuckDBPyConnection) -> None:
    _, got = await result("average late fee by member into fees", shop)
    fees: dict[str, list[float]] = {}
    for r in rows("loans"):
        fees.setdefault(r["member"], []).append(float(r["late_fee"]))
    assert got == Counter((m, norm(sum(v) / len(v))) for m, v in fees.items())


async def test_several_tables_that_fit_are_named(shop: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request("keep rows above 250 into big", shop, working_dir=HERE)
    assert caught.value.details["tables"] == ["loans", "purchases"]
    assert caught.value.details["suggestions"] == [
        "keep loans above 250 into big",
        "keep purchases above 250 into big",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Which purchases are above 250? Save them as big",
        "which purchases have an amount over 250? store them in big",
    ],
)
async def test_which_rows_questions(shop: duckdb.DuckDBPyConnection, text: str) -> None:
    _, got = await result(text, shop)

    assert got == whole("purchases", lambda r: float(r["amount"]) > 250).rows


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("purchases whose client is not gold into x", "'client' is the key client_id"),
        ("loans with a late fee above 2 for alice into x", "cannot read the value '2 for alice'"),
    ],
)
async def test_a_word_that_is_no_value_is_refused(
    shop: duckdb.DuckDBPyConnection, text: str, reason: str
) -> None:
    with pytest.raises(LLMUnsupportedRequestError) as caught:  # was client_id != 'gold'
        await run_request(text, shop, working_dir=HERE)

    assert reason in caught.value.message


async def test_a_verb_before_a_number_names_its_measure_or_is_refused(
    shop: duckdb.DuckDBPyConnection,
) -> None:
    _, got = await result("purchases costing over 250 into x", shop)
    assert got == whole("purchases", lambda r: float(r["amount"]) > 250).rows

    with pytest.raises(LLMUnsupportedRequestError) as caught:  # loans have one number: late_fee
        await run_request("loans aged over 2 into y", shop, working_dir=HERE)
    assert "no column says what 'aged' measures" in caught.value.message
