"""Property-based tests of ``TaskRequest.parse``: whatever a form, the API or the CLI sends,
the answer is a valid request or an ``InvalidRequestError`` naming each bad field, never
another exception; a valid request survives its own JSON."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from aadap.core.exceptions import InvalidRequestError
from aadap.core.requests import MAX_REQUEST_CHARS, TaskRequest

anything = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.decimals(), st.lists(st.integers(), max_size=2),
)  # fmt: skip

fields = st.fixed_dictionaries(
    {"text": st.one_of(st.text(max_size=80), anything)},
    optional={
        "environment": st.one_of(st.sampled_from(["SANDBOX", "PRODUCTION", "sandbox"]), anything),
        "platform": st.one_of(st.sampled_from(["local", "databricks", "fabric"]), anything),
        "token_budget": anything,
        "usd_budget": st.one_of(st.decimals(allow_nan=True, allow_infinity=True), anything),
        "priority": anything,
        "correlation_id": anything,
        "idempotency_key": anything,
        "connection": anything,
        "title": anything,
        "unknown_field": anything,
    },
)


@given(fields)
@example({"text": "   "})
@example({"text": "0\x1f"})  # found by hypothesis: pydantic strips fewer characters
@example({"text": "load a.csv into t", "usd_budget": Decimal("sNaN")})
@example({"text": "load a.csv into t", "usd_budget": float("nan")})
@example({"text": "load a.csv into t", "token_budget": 10**30})
@example({"text": "x" * (MAX_REQUEST_CHARS + 1)})
@example({"text": "load a.csv into t", "correlation_id": "a b"})
@settings(max_examples=400, deadline=None)
def test_parse_gives_a_valid_request_or_names_the_bad_fields(data: dict[str, Any]) -> None:
    try:
        request = TaskRequest.parse(data)
    except InvalidRequestError as exc:
        refused = exc
    else:
        refused = None
    if refused is not None:
        assert refused.details["fields"], refused.message
        assert all(name in refused.message for name in refused.details["fields"])
        return
    assert request.text and request.text == request.text.strip()
    assert request.usd_budget is None or (
        request.usd_budget.is_finite() and request.usd_budget >= 0
    )
    again = TaskRequest.parse(request.model_dump(mode="json"))
    assert again == request
