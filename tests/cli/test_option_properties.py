"""Property-based tests of the CLI's option parsing: ``--since`` and the request options of
``aadap run``/``aadap submit`` either give a value or exit 2 with one error line, whatever
is typed. Every example hypothesis found failing is kept as an ``@example``."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import string
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import typer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from aadap.cli._common import task_request
from aadap.cli._inspect import parse_since
from aadap.core.requests import MAX_REQUEST_CHARS, TaskRequest

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
T = TypeVar("T")
UNITS = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}


def outcome(call: Callable[[], T]) -> T | int:
    """``call()``'s value, or the status it exited with."""
    try:
        return call()
    except typer.Exit as exc:
        return exc.exit_code


def exits_2(call: Callable[[], object]) -> bool:
    """True if ``call()`` exited with status 2 (a bad-input message), False if it returned."""
    result = outcome(call)
    assert result == 2 or not isinstance(result, int)
    return result == 2


@given(amount=st.integers(min_value=0, max_value=10**12), unit=st.sampled_from(sorted(UNITS)))
@example(amount=99_999_999, unit="d")  # the reported crash: OverflowError from datetime
@example(amount=999_999_999, unit="w")  # OverflowError from timedelta itself
@example(amount=10**10, unit="m")  # more digits than an age may have
@settings(max_examples=300, deadline=None)
def test_an_age_is_subtracted_exactly_or_refused(amount: int, unit: str) -> None:
    value = f"{amount}{unit}"
    try:
        expected = NOW - dt.timedelta(**{UNITS[unit]: amount})
    except OverflowError:
        expected = None
    if expected is None or len(str(amount)) > 9:
        printed = io.StringIO()
        with contextlib.redirect_stderr(printed):
            assert exits_2(lambda: parse_since(value, now=NOW))
        assert f"error [INVALID_REQUEST] --since={value!r}" in printed.getvalue()
    else:
        assert parse_since(value, now=NOW) == expected


@given(st.text(max_size=40))
@example("")
@example(" 7d ")
@example("7D")
@example("0d")
@example("2026-02-30")
@example("9999-12-31T23:59:59+14:00")
@example("\x00")
@settings(max_examples=300, deadline=None)
def test_any_since_text_is_an_aware_datetime_or_exit_2(value: str) -> None:
    parsed = outcome(lambda: parse_since(value, now=NOW))
    if isinstance(parsed, int):
        assert parsed == 2
        return
    assert parsed is not None
    assert parsed.tzinfo is not None


budget_text = st.one_of(
    st.none(),
    st.text(alphabet=string.digits + ".-+eE_ ,$", max_size=12),
    st.sampled_from(["NaN", "sNaN", "Infinity", "-Infinity", "1e999999", "0", "0.50"]),
)


@given(
    text=st.text(max_size=60),
    environment=st.one_of(st.sampled_from(["SANDBOX", "production", ""]), st.text(max_size=12)),
    platform=st.one_of(
        st.sampled_from(["local", "DATABRICKS", "fabric", ""]), st.text(max_size=12)
    ),
    token_budget=st.one_of(st.none(), st.integers(min_value=-(10**20), max_value=10**20)),
    usd_budget=budget_text,
    idempotency_key=st.one_of(st.none(), st.text(max_size=140)),
    connection=st.one_of(st.none(), st.text(max_size=140)),
)
@example(text="load a.csv into t", environment="SANDBOX", platform="local", token_budget=None,
         usd_budget="sNaN", idempotency_key=None, connection=None)  # fmt: skip
@example(text="load a.csv into t", environment="SANDBOX", platform="local", token_budget=None,
         usd_budget="1e999999", idempotency_key=None, connection=None)  # fmt: skip
@example(text="load a.csv into t", environment="", platform="local", token_budget=None,
         usd_budget=None, idempotency_key=None, connection=None)  # fmt: skip
@example(
    text="0\x1f",
    environment="SANDBOX",
    platform="local",
    token_budget=None,
    usd_budget=None,
    idempotency_key=None,
    connection=None,
)  # fmt: skip; found by hypothesis
@settings(max_examples=300, deadline=None)
def test_request_options_give_a_valid_request_or_exit_2(
    text: str,
    environment: str,
    platform: str,
    token_budget: int | None,
    usd_budget: str | None,
    idempotency_key: str | None,
    connection: str | None,
) -> None:
    def build() -> TaskRequest:
        return task_request(
            text, environment=environment, platform=platform, connection=connection,
            token_budget=token_budget, usd_budget=usd_budget,
            idempotency_key=idempotency_key, working_dir=Path("/tmp"),
        )  # fmt: skip

    request = outcome(build)
    if isinstance(request, int):
        assert request == 2
        return
    assert 0 < len(request.text) <= MAX_REQUEST_CHARS
    assert request.text == request.text.strip()
    assert request.usd_budget is None or (
        request.usd_budget.is_finite() and request.usd_budget >= 0
    )
    assert request.token_budget is None or 0 <= request.token_budget <= 100_000_000
    assert request.usd_budget == (None if usd_budget is None else Decimal(usd_budget))
