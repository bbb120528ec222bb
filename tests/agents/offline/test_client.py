"""The client itself: protocol, usage, determinism, the reviewer's and developer's rules."""

from __future__ import annotations

import json
from decimal import Decimal

import duckdb
import pytest

from aadap.agents import AgentContext, GeneratedCode, parse_request, review_code
from aadap.agents._prompt import load_prompt
from aadap.agents._prompt_inputs import common_values
from aadap.agents.offline import MODEL, OfflineLLMClient
from aadap.core.enums import Language
from aadap.core.exceptions import LLMResponseError, LLMUnsupportedRequestError
from aadap.llm.messages import LLMClient, LLMRequest, Message
from aadap.llm.testing import ScriptedLLMClient
from tests.agents.offline.pipeline import EXAMPLES, execute, run_request


def test_implements_the_protocol() -> None:
    client = OfflineLLMClient()

    assert isinstance(client, LLMClient)
    assert client.provider == "offline"
    assert client.model_for("developer") == MODEL == "offline-rules-v1"


async def test_completion_usage_is_estimated_and_free() -> None:
    client = OfflineLLMClient()
    task = load_prompt("parser").user(
        common_values(AgentContext(request_text="list tables", working_dir=EXAMPLES))
    )
    request = LLMRequest(
        agent="parser", messages=(Message("system", "s" * 400), Message("user", task))
    )

    completion = await client.complete(request)

    assert json.loads(completion.text)["intent"] == "list_tables"
    assert completion.usage.tokens_in == (400 + len(task)) // 4
    assert completion.usage.tokens_out == len(completion.text) // 4
    assert completion.usage.cost_usd == Decimal("0")
    assert (completion.provider, completion.model) == ("offline", MODEL)
    assert completion.latency_ms >= 0


async def test_unknown_agent_is_a_response_error() -> None:
    request = LLMRequest(agent="poet", messages=(Message("user", "a sonnet"),))

    with pytest.raises(LLMResponseError, match="no rules for the agent 'poet'"):
        await OfflineLLMClient().complete(request)


async def test_a_prompt_that_is_not_the_agents_own_is_refused() -> None:
    """The offline rules read the facts an agent puts in its TASK; prose is beyond them."""
    request = LLMRequest(agent="developer", messages=(Message("user", "write me a join"),))

    with pytest.raises(LLMUnsupportedRequestError, match="not the developer agent's TASK"):
        await OfflineLLMClient().complete(request)


async def test_a_task_without_a_valid_requirement_is_refused() -> None:
    ctx = AgentContext(request_text="x", working_dir=EXAMPLES)
    values = {**common_values(ctx), "requirement": "{}", "plan": "{}", "route": "{}"}
    request = LLMRequest(
        agent="developer", messages=(Message("user", load_prompt("developer").user(values)),)
    )

    with pytest.raises(LLMUnsupportedRequestError, match="no valid requirement"):
        await OfflineLLMClient().complete(request)


@pytest.mark.parametrize(
    "request_text",
    [
        "Load data/orders.csv, dedupe on order_id keeping the latest, then monthly revenue by region",
        "Enrich orders with customers into oc",
        "show me the first 7 rows of orders where status = 'shipped'",
    ],
)
async def test_same_request_gives_identical_code(
    seeded: duckdb.DuckDBPyConnection, request_text: str
) -> None:
    first = await run_request(request_text, seeded)
    second = await run_request(request_text, seeded)

    assert first.code == second.code
    assert first.optimisation == second.optimisation
    assert first.requirement == second.requirement


async def test_existing_target_is_flagged_but_not_failed(seeded: duckdb.DuckDBPyConnection) -> None:
    outcome = await run_request("dedupe raw_orders on order_id into orders", seeded)

    assert outcome.review.passed
    warning = next(f for f in outcome.review.findings if "already exists" in f.message)
    assert (warning.severity, warning.source) == ("warning", "llm")
    with pytest.raises(duckdb.CatalogException):
        execute(seeded, outcome)


async def test_destructive_given_sql_is_flagged_for_approval(
    seeded: duckdb.DuckDBPyConnection,
) -> None:
    outcome = await run_request("run: DROP TABLE raw_orders", seeded)

    assert outcome.review.passed  # the safety gates, not the reviewer, decide on approval
    assert any("DROP changes or removes" in f.message for f in outcome.review.findings)


async def test_broken_given_sql_fails_review_and_is_not_rewritten(
    seeded: duckdb.DuckDBPyConnection,
) -> None:
    outcome = await run_request("run: SELECT * FROM", seeded)

    assert outcome.review.passed is False
    assert outcome.review.findings[0].source == "syntax"
    with pytest.raises(LLMUnsupportedRequestError, match="does not rewrite user SQL"):
        await run_request(
            "run: SELECT * FROM", seeded, feedback=[outcome.review.findings[0].message]
        )


async def test_feedback_round_regenerates_clean_code(seeded: duckdb.DuckDBPyConnection) -> None:
    first = await run_request("count orders by status into status_counts", seeded)
    again = await run_request(
        "count orders by status into status_counts", seeded, feedback=["SQL syntax error on line 1"]
    )

    assert again.code.code == first.code.code
    assert "Regenerated from the requirement after feedback" in again.code.explanation
    assert again.review.passed


async def test_reviewer_catches_code_that_misses_the_target() -> None:
    """The offline reviewer checks other developers' code too: this one forgot the target."""
    offline = OfflineLLMClient()
    ctx = AgentContext(request_text="load data/orders.csv into orders", working_dir=EXAMPLES)
    requirement = await parse_request(offline, ctx)
    code = GeneratedCode(code="SELECT 1", language=Language.SQL, explanation="e")

    review = await review_code(offline, ctx, requirement, code)

    assert review.passed is False
    assert any("does not create the target table orders" in f.message for f in review.findings)


async def test_scripted_and_offline_clients_are_interchangeable() -> None:
    offline = OfflineLLMClient()
    ctx = AgentContext(request_text="list tables", working_dir=EXAMPLES)
    requirement = await parse_request(offline, ctx)
    scripted = ScriptedLLMClient([requirement.model_dump_json()])

    assert await parse_request(scripted, ctx) == requirement
