"""The OpenAI-compatible client's happy paths, over real HTTP against the fake server."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from aadap.agents.client import build_client
from aadap.agents.offline import OfflineLLMClient
from aadap.core.config import LLMSettings, PriceOverride
from aadap.core.exceptions import InvalidConfigurationError, MissingConfigurationError
from aadap.llm import LLMClient
from aadap.llm.messages import LLMRequest, Message
from aadap.llm.openai import OpenAICompatibleClient
from tests.fakes.openai_server import ChatReply, FakeOpenAIServer
from tests.llm.conftest import RecordingSleep, SettingsFactory

SYSTEM = Message("system", "You are the developer agent. Answer in JSON.")
USER = Message("user", "Write a PySpark job that dedupes orders.")


def request_for(agent: str = "developer", **kwargs: Any) -> LLMRequest:
    return LLMRequest(agent=agent, messages=(SYSTEM, USER), **kwargs)


async def test_success_returns_text_usage_and_cost(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.reply_with(
        ChatReply(
            content='{"code": "df.dropDuplicates()"}', prompt_tokens=1000, completion_tokens=500
        )
    )
    async with open_client(make_settings()) as client:
        completion = await client.complete(request_for())

    assert completion.text == '{"code": "df.dropDuplicates()"}'
    assert completion.provider == "openai"
    assert completion.model == "gpt-4o-mini"
    assert (completion.usage.tokens_in, completion.usage.tokens_out) == (1000, 500)
    # gpt-4o-mini: $0.15 / $0.60 per million tokens (genai-prices snapshot)
    assert completion.usage.cost_usd == Decimal("0.00045")
    assert isinstance(completion.latency_ms, int)
    assert completion.latency_ms >= 0
    assert completion.raw["id"] == "chatcmpl-fake"
    assert sleep.calls == []

    [sent] = openai_server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {openai_server.api_key}"
    assert "api-key" not in sent.headers
    assert sent.body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": SYSTEM.content},
            {"role": "user", "content": USER.content},
        ],
        "temperature": 0.0,
        "max_tokens": 4096,
        "response_format": {"type": "json_object"},
    }


async def test_request_overrides_and_per_agent_models(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    settings = make_settings(models={"reviewer": "gpt-4.1"}, temperature=0.7)
    async with open_client(settings) as client:
        assert client.model_for("reviewer") == "gpt-4.1"
        assert client.model_for("parser") == "gpt-4o-mini"
        completion = await client.complete(
            request_for("reviewer", json_output=False, max_output_tokens=256, temperature=0.2)
        )
        await client.complete(request_for("parser"))

    assert completion.model == "gpt-4.1"
    first, second = openai_server.requests
    assert first.body["model"] == "gpt-4.1"
    assert first.body["max_tokens"] == 256
    assert first.body["temperature"] == 0.2
    assert "response_format" not in first.body
    assert second.body["model"] == "gpt-4o-mini"
    assert second.body["temperature"] == 0.7


async def test_azure_uses_deployment_path_api_version_and_api_key_header(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    settings = make_settings(
        api_style="azure",
        azure_api_version="2024-10-21",
        models={"developer": "dev-deployment"},
        prices={"dev-deployment": PriceOverride(input_per_mtok=Decimal("2"), output_per_mtok=8)},
    )
    openai_server.reply_with(ChatReply(prompt_tokens=300, completion_tokens=70))
    async with open_client(settings) as client:
        completion = await client.complete(request_for("developer"))

    [sent] = openai_server.requests
    assert sent.path == "/openai/deployments/dev-deployment/chat/completions"
    assert sent.query == {"api-version": "2024-10-21"}
    assert sent.headers["api-key"] == openai_server.api_key
    assert "authorization" not in sent.headers
    assert "model" not in sent.body
    assert completion.model == "dev-deployment"
    # 300 * 2 / 1e6 + 70 * 8 / 1e6, exactly
    assert completion.usage.cost_usd == Decimal("0.00116")


async def test_azure_deployment_without_override_is_priced_from_the_reported_model(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    settings = make_settings(api_style="azure", default_model="team-deployment")
    openai_server.reply_with(
        ChatReply(model="gpt-4o-mini-2024-07-18", prompt_tokens=1000, completion_tokens=500)
    )
    async with open_client(settings) as client:
        completion = await client.complete(request_for())

    assert openai_server.requests[0].path == "/openai/deployments/team-deployment/chat/completions"
    assert completion.usage.cost_usd == Decimal("0.00045")


async def test_unknown_model_is_unpriced_not_free(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.reply_with(ChatReply(model="house-llama", prompt_tokens=10, completion_tokens=10))
    async with open_client(make_settings(default_model="house-llama")) as client:
        completion = await client.complete(request_for())

    assert completion.usage.cost_usd is None
    assert not completion.usage.priced
    assert completion.usage.total_tokens == 20


async def test_missing_usage_is_estimated_from_text_length(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.reply_with(
        ChatReply(content="x" * 40, prompt_tokens=None, completion_tokens=None)
    )
    async with open_client(make_settings()) as client:
        completion = await client.complete(request_for())

    prompt_chars = len(SYSTEM.content) + len(USER.content)
    assert completion.usage.tokens_in == prompt_chars // 4
    assert completion.usage.tokens_out == 10


async def test_owned_http_client_is_closed_by_aclose(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory
) -> None:
    async with OpenAICompatibleClient(make_settings()) as client:
        completion = await client.complete(request_for())
    assert completion.text == '{"ok": true}'
    assert len(openai_server.requests) == 1


def test_missing_base_url_is_a_configuration_error() -> None:
    with pytest.raises(MissingConfigurationError, match="AADAP_LLM_BASE_URL"):
        OpenAICompatibleClient(LLMSettings(provider="openai", base_url=None))


def test_base_url_without_http_scheme_is_rejected() -> None:
    with pytest.raises(InvalidConfigurationError, match="http:// or https://"):
        OpenAICompatibleClient(LLMSettings(provider="openai", base_url="api.openai.com/v1"))


async def test_build_client_returns_the_openai_client_for_provider_openai(
    make_settings: SettingsFactory,
) -> None:
    client = build_client(make_settings())
    try:
        assert isinstance(client, OpenAICompatibleClient)
        assert isinstance(client, LLMClient)
        assert client.provider == "openai"
    finally:
        assert isinstance(client, OpenAICompatibleClient)
        await client.aclose()


def test_build_client_returns_the_offline_client_for_provider_offline() -> None:
    client = build_client(LLMSettings(provider="offline"))
    assert isinstance(client, OfflineLLMClient)
    assert isinstance(client, LLMClient)
