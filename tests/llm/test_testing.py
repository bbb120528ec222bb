"""The deterministic doubles in ``aadap.llm.testing``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aadap.core.config import PriceOverride
from aadap.core.exceptions import LLMRateLimitError, LLMResponseError, is_retryable
from aadap.llm.messages import LLMClient, LLMRequest, Message, Usage
from aadap.llm.testing import FunctionLLMClient, Reply, ScriptedLLMClient, estimate_usage


def make_request(agent: str = "planner", text: str = "plan the job please") -> LLMRequest:
    return LLMRequest(agent=agent, messages=(Message("system", "be brief"), Message("user", text)))


async def test_scripted_client_answers_in_order_and_records_requests() -> None:
    client = ScriptedLLMClient(["first answer", lambda req: f"echo {req.agent}"], model="m-1")
    one, two = make_request("parser"), make_request("router")

    first = await client.complete(one)
    second = await client.complete(two)

    assert (first.text, second.text) == ("first answer", "echo router")
    assert client.requests == [one, two]
    assert first.model == "m-1"
    assert first.provider == "scripted"
    assert client.model_for("anyone") == "m-1"
    assert client.remaining == 0


async def test_scripted_errors_are_raised_in_order() -> None:
    client = ScriptedLLMClient(
        [LLMRateLimitError("rate limited"), LLMRateLimitError, '{"ok": true}']
    )
    with pytest.raises(LLMRateLimitError, match="rate limited"):
        await client.complete(make_request())
    with pytest.raises(LLMRateLimitError, match="scripted LLMRateLimitError"):
        await client.complete(make_request())
    completion = await client.complete(make_request())

    assert completion.text == '{"ok": true}'
    assert len(client.requests) == 3


async def test_exhausted_script_raises_a_clear_non_retryable_error() -> None:
    client = ScriptedLLMClient(["only one"])
    await client.complete(make_request())
    with pytest.raises(LLMResponseError, match=r"script exhausted: request #2") as caught:
        await client.complete(make_request("reviewer"))
    assert not is_retryable(caught.value)
    assert caught.value.agent_id == "reviewer"


async def test_usage_is_estimated_and_free_by_default() -> None:
    request = make_request(text="x" * 40)  # 8 + 40 characters of prompt
    completion = await ScriptedLLMClient(["y" * 21]).complete(request)
    assert completion.usage == Usage(tokens_in=12, tokens_out=5, cost_usd=Decimal("0"))


async def test_fixed_price_makes_costs_for_budget_tests() -> None:
    price = PriceOverride(input_per_mtok=Decimal("1000000"), output_per_mtok=Decimal("2000000"))
    client = ScriptedLLMClient(["y" * 40, "y" * 40], price=price)
    request = make_request(text="x" * 40)
    total = Usage(0, 0)
    for _ in range(2):
        total = total + (await client.complete(request)).usage
    # each call: 12 tokens in at $1, 10 tokens out at $2
    assert total == Usage(tokens_in=24, tokens_out=20, cost_usd=Decimal("64"))


async def test_reply_carries_explicit_usage_including_unpriced() -> None:
    client = ScriptedLLMClient(
        [
            Reply("a", usage=Usage(100, 50, Decimal("0.01"))),
            Reply(lambda req: req.agent, usage=Usage(1, 1, None)),
        ]
    )
    first = await client.complete(make_request())
    second = await client.complete(make_request("developer"))
    assert first.usage == Usage(100, 50, Decimal("0.01"))
    assert second.text == "developer"
    assert not second.usage.priced


async def test_function_client_answers_every_request() -> None:
    client = FunctionLLMClient(lambda req: req.messages[-1].content.upper(), model="fn")
    completion = await client.complete(make_request(text="hello"))
    assert completion.text == "HELLO"
    assert completion.provider == "function"
    assert completion.model == "fn"
    assert len(client.requests) == 1


def test_doubles_satisfy_the_protocol_and_are_not_collected() -> None:
    assert isinstance(ScriptedLLMClient([]), LLMClient)
    assert isinstance(FunctionLLMClient(lambda req: ""), LLMClient)
    assert ScriptedLLMClient.__test__ is False
    assert FunctionLLMClient.__test__ is False


def test_estimate_usage_prices_with_the_given_override() -> None:
    price = PriceOverride(input_per_mtok=Decimal("3"), output_per_mtok=Decimal("15"))
    usage = estimate_usage(make_request(text="x" * 392), "z" * 400, price)
    assert (usage.tokens_in, usage.tokens_out) == (100, 100)
    assert usage.cost_usd == Decimal("0.0018")
