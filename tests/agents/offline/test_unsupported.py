"""Requests outside the grammar are refused with a configure-a-provider hint, never guessed."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import (
    DataFileIsDirectoryError,
    DataFileNotFoundError,
    LLMUnsupportedRequestError,
    is_retryable,
)
from tests.agents.offline.pipeline import run_request


@pytest.mark.parametrize(
    ("request_text", "reason"),
    [
        ("build me a Kafka streaming pipeline", "cannot understand"),
        ("send an email to the finance team", "cannot understand"),
        ("dedupe orders on colour", "no column matches 'colour'"),
        ("filter orders where amount > 100 or status = 'shipped'", "'or'"),
        ("weekly sales by country from orders", "no column matches 'country'"),
        ("average amount by region", "does not say which table"),
        ("count customers by region", "no column matches 'region'"),
        ("revenue per segment from customers", "cannot tell which column 'revenue' means"),
        ("join raw_orders with orders", "cannot tell how to join"),
        ("preview the sales_history table", "there is no table 'sales_history'"),
        ("filter data/orders.csv where amount > lots", "numeric"),  # types from the file
        ("load data/orders.csv, then load data/customers.csv", "second pipeline"),
    ],
)
async def test_unsupported_requests(
    seeded: duckdb.DuckDBPyConnection, request_text: str, reason: str
) -> None:
    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request(request_text, seeded)

    error = caught.value
    assert reason in error.details["reason"]
    assert "offline LLM provider cannot handle this request" in error.message
    assert "AADAP_LLM_PROVIDER=openai" in error.message
    assert "AADAP_LLM_BASE_URL" in error.message
    assert "AADAP_LLM_API_KEY" in error.message
    assert "load a CSV/Parquet/JSON file" in error.message  # names the supported family
    assert not is_retryable(error)


@pytest.mark.parametrize(
    ("request_text", "error", "says"),
    [
        (
            "load data/missing.csv into m",
            DataFileNotFoundError,
            "'data/missing.csv' does not exist",
        ),
        ("load data into m", LLMUnsupportedRequestError, "cannot understand"),  # not a file name
        ("load folder.csv into m", DataFileIsDirectoryError, "is a directory"),
    ],
)
async def test_a_missing_or_directory_data_file_is_a_data_error_not_a_provider_hint(
    seeded: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    request_text: str,
    error: type[Exception],
    says: str,
) -> None:
    (tmp_path / "folder.csv").mkdir()

    with pytest.raises(error) as caught:
        await run_request(request_text, seeded, working_dir=tmp_path)

    assert says in str(caught.value)
    if error is not LLMUnsupportedRequestError:
        assert "AADAP_LLM_PROVIDER" not in str(caught.value)
        assert not is_retryable(caught.value)


async def test_remote_platforms_are_refused_for_generated_code(
    seeded: duckdb.DuckDBPyConnection,
) -> None:
    with pytest.raises(LLMUnsupportedRequestError) as caught:
        await run_request(
            "filter orders where amount > 100", seeded, platform=PlatformKind.DATABRICKS
        )

    assert caught.value.agent_id == "developer"
    assert "databricks" in caught.value.details["reason"]


async def test_given_sql_passes_through_on_remote_platforms(
    seeded: duckdb.DuckDBPyConnection,
) -> None:
    outcome = await run_request(
        "run: SELECT * FROM main.sales.orders LIMIT 5", seeded, platform=PlatformKind.DATABRICKS
    )

    assert outcome.code.code == "SELECT * FROM main.sales.orders LIMIT 5"
    assert outcome.review.passed
