"""The answers of LLM gateways and cloud endpoints, as they really send them (LiteLLM
1.108 proxy, OpenAI, Azure OpenAI), replayed by the fake server over real HTTP:
authentication, unknown models, wrong base URLs, HTML pages, retry hints, pricing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any

import pytest

from aadap.core.config import PriceOverride
from aadap.core.exceptions import (
    InvalidConfigurationError,
    LLMAuthenticationError,
    LLMResponseError,
    LLMServerError,
    is_retryable,
)
from aadap.llm.messages import LLMRequest, Message, RetryEvent
from aadap.llm.openai import OpenAICompatibleClient
from aadap.llm.openai._retry_hints import parse_duration
from tests.fakes.openai_server import ChatReply, FakeOpenAIServer, Fault
from tests.llm.conftest import RecordingSleep, SettingsFactory

REQUEST = LLMRequest(agent="developer", messages=(Message("user", "dedupe orders"),))

_LITELLM_RELAYED = {  # what LiteLLM adds when it relays an upstream provider's answer
    "llm_provider-server": "BaseHTTP/0.6 Python/3.11.7",
    "llm_provider-content-type": "application/json",
    "x-litellm-call-id": "521a3508-17a8-4a18-a0e2-85952503a243",
}


def _litellm_error(status: int, message: str, kind: str, **headers: str) -> Fault:
    body = (
        '{"error": {"message": "' + message + '", "type": "' + kind + '", '
        f'"param": null, "code": "{status}"' + "}}"
    )
    return Fault(status=status, body=body, headers=headers)


# --- authentication ------------------------------------------------------------------

AUTH_SHAPES = [
    pytest.param(
        _litellm_error(400, "No connected db.", "no_db_connection"),
        "no database",
        id="litellm-no-db",
    ),
    pytest.param(
        _litellm_error(
            401, "Authentication Error, Invalid proxy server token passed.", "auth_error"
        ),
        "AADAP_LLM_API_KEY",
        id="litellm-auth-error",
    ),
    pytest.param(
        _litellm_error(401, "Authentication Error - Expired Key.", "expired_key"),
        "AADAP_LLM_API_KEY",
        id="litellm-expired-key",
    ),
    pytest.param(
        Fault(
            status=401,
            body='{"error": {"message": "Incorrect API key provided: sk-abc***.", '
            '"type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}',
        ),
        "AADAP_LLM_API_KEY",
        id="openai",
    ),
    pytest.param(
        Fault(
            status=401,
            body='{"error": {"code": "401", "message": "Access denied due to invalid '
            "subscription key or wrong API endpoint. Make sure to provide a valid key for an "
            'active subscription and use a correct regional API endpoint for your resource."}}',
        ),
        "api-key",
        id="azure",
    ),
]


@pytest.mark.parametrize(("fault", "says"), AUTH_SHAPES)
async def test_authentication_failures_of_gateways_and_clouds_are_auth_errors_never_retried(
    fault: Fault,
    says: str,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(fault)
    async with open_client(make_settings()) as client:
        with pytest.raises(LLMAuthenticationError) as caught:
            await client.complete(REQUEST)
    assert caught.value.error_code == "LLM_AUTH_FAILED"
    assert not is_retryable(caught.value)
    assert says in str(caught.value)
    assert len(openai_server.requests) == 1
    assert sleep.calls == []


async def test_an_upstream_credential_error_relayed_by_a_gateway_says_so(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.fail_next(
        _litellm_error(
            401,
            "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API "
            "key provided. LiteLLM: model group 'aadap-developer' failed with the error above.",
            "authentication_error",
            **_LITELLM_RELAYED,
        )
    )
    async with open_client(make_settings()) as client:
        with pytest.raises(LLMAuthenticationError) as caught:
            await client.complete(REQUEST)
    message = str(caught.value)
    assert "upstream provider rejected the gateway's own credentials" in message
    assert "gateway's configuration" in message
    assert "check AADAP_LLM_API_KEY" not in message
    assert caught.value.details["relayed"] is True


# --- unknown model, wrong URL, HTML ---------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "models", "setting"),
    [
        pytest.param(
            _litellm_error(
                400,
                "/chat/completions: Invalid model name passed in model=aadap-dev. Call "
                "`/v1/models` to view available models for your key.",
                "invalid_request_error",
            ),
            {"developer": "aadap-dev"},
            "AADAP_LLM_MODELS['developer']",
            id="litellm",
        ),
        pytest.param(
            Fault(
                status=404,
                body='{"error": {"message": "The model `gpt-4o-mini` does not exist or you do '
                'not have access to it.", "type": "invalid_request_error", "param": null, '
                '"code": "model_not_found"}}',
            ),
            {},
            "AADAP_LLM_DEFAULT_MODEL",
            id="openai",
        ),
    ],
)
async def test_an_unknown_model_names_the_model_and_where_it_came_from(
    fault: Fault,
    models: dict[str, str],
    setting: str,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
) -> None:
    openai_server.fail_next(fault)
    async with open_client(make_settings(models=models)) as client:
        with pytest.raises(LLMResponseError) as caught:
            await client.complete(REQUEST)
    model = models.get("developer", "gpt-4o-mini")
    assert f"does not know the model {model!r}" in str(caught.value)
    assert f"it comes from {setting}" in str(caught.value)


async def test_an_unknown_azure_deployment_names_the_deployment(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.fail_next(
        Fault(
            status=404,
            body='{"error": {"code": "DeploymentNotFound", "message": "The API deployment for '
            'this resource does not exist."}}',
        )
    )
    settings = make_settings(api_style="azure", models={"developer": "prod-gpt"})
    async with open_client(settings) as client:
        with pytest.raises(LLMResponseError, match="does not know the model 'prod-gpt'"):
            await client.complete(REQUEST)


@pytest.mark.parametrize("suffix", ["/chat/completions", "/chat/completions/"])
def test_a_base_url_ending_in_chat_completions_is_refused_before_any_call(
    suffix: str, openai_server: FakeOpenAIServer, make_settings: SettingsFactory
) -> None:
    settings = make_settings(base_url=openai_server.openai_base_url + suffix)
    with pytest.raises(InvalidConfigurationError) as caught:
        OpenAICompatibleClient(settings)
    assert "ends with /chat/completions" in str(caught.value)
    assert repr(openai_server.openai_base_url) in str(caught.value)
    assert openai_server.requests == []


async def test_a_wrong_path_says_to_check_the_base_url(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    async with open_client(make_settings(base_url=openai_server.url + "/api")) as client:
        with pytest.raises(LLMResponseError) as caught:
            await client.complete(REQUEST)
    assert "HTTP 404" in str(caught.value)
    assert "check AADAP_LLM_BASE_URL" in str(caught.value)


_HTML = "<!DOCTYPE html><html><body><h1>Sign in to continue</h1></body></html>"


async def test_a_gateway_answering_html_is_a_clear_error(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.fail_next(Fault(status=200, body=_HTML, content_type="text/html"))
    async with open_client(make_settings()) as client:
        with pytest.raises(LLMResponseError, match="answered an HTML page, not JSON"):
            await client.complete(REQUEST)
    assert len(openai_server.requests) == 1


async def test_an_html_502_is_retried_a_bounded_number_of_times_then_explained(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(*[Fault(status=502, body=_HTML, content_type="text/html")] * 3)
    async with open_client(make_settings(max_retries=2)) as client:
        with pytest.raises(LLMServerError, match="answered an HTML page"):
            await client.complete(REQUEST)
    assert len(openai_server.requests) == 3
    assert sleep.calls == [0.5, 1.0]


# --- retry hints ----------------------------------------------------------------------


def _rate_limited(**headers: str) -> Fault:
    return Fault(
        status=429,
        body='{"error": {"message": "Rate limit reached", "type": "throttling_error"}}',
        headers=headers,
    )


@pytest.mark.parametrize(
    ("headers", "wait", "source"),
    [
        pytest.param({"llm_provider-retry-after": "7"}, 7.0, "llm_provider-retry-after", id="litellm-relayed"),
        pytest.param({"llm_provider-retry-after-ms": "7000", "llm_provider-retry-after": "9"}, 7.0, "llm_provider-retry-after-ms", id="litellm-relayed-ms"),
        pytest.param({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, "retry-after-ms", id="ms-first"),
        pytest.param({"retry-after": "3", "llm_provider-retry-after": "9"}, 3.0, "retry-after", id="own-before-relayed"),
        pytest.param({"x-ratelimit-reset-requests": "6s", "x-ratelimit-reset-tokens": "12.5s"}, 12.5, "x-ratelimit-reset-tokens", id="reset-family-longest"),
        pytest.param({"llm_provider-x-ratelimit-reset-requests": "250ms"}, 0.25, "llm_provider-x-ratelimit-reset-requests", id="relayed-reset"),
        pytest.param({"retry-after": "31536000"}, 30.0, "retry-after", id="a-year-is-capped"),
        pytest.param({"retry-after": format_datetime(datetime.now(UTC) + timedelta(days=365), usegmt=True)}, 30.0, "retry-after", id="a-date-next-year-is-capped"),
        pytest.param({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, 30.0, "retry-after", id="year-9999"),
        pytest.param({"retry-after": "1e309"}, 0.5, None, id="infinite-is-garbage"),
        pytest.param({"retry-after": "soon", "x-ratelimit-reset-requests": "whenever"}, 0.5, None, id="garbage-backs-off"),
        pytest.param({"retry-after": "-5"}, 0.0, "retry-after", id="negative-is-now"),
    ],
)  # fmt: skip
async def test_retry_hints_that_survive_a_proxy_are_honoured_and_bounded(
    headers: dict[str, str],
    wait: float,
    source: str | None,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(_rate_limited(**headers))
    events: list[RetryEvent] = []

    async def record(event: RetryEvent) -> None:
        events.append(event)

    request = LLMRequest(agent="developer", messages=REQUEST.messages, on_retry=record)
    async with open_client(make_settings(max_retry_wait_seconds=30)) as client:
        await client.complete(request)
    assert sleep.calls == [pytest.approx(wait, abs=0.01)]
    [event] = events
    assert (event.attempt, event.max_attempts, event.status) == (1, 4, 429)
    assert event.error_code == "LLM_RATE_LIMIT"
    assert event.wait_seconds == pytest.approx(wait, abs=0.01)
    assert event.hint_header == source


async def test_a_503_with_retry_after_is_honoured(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault(status=503, headers={"Retry-After": "4"}))
    async with open_client(make_settings()) as client:
        await client.complete(REQUEST)
    assert sleep.calls == [4.0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6s", 6.0), ("1m30s", 90.0), ("2h0m0s", 7200.0), ("20ms", 0.02), ("0.5s", 0.5),
     ("7", 7.0), ("", None), ("6 s", None), ("1x", None), ("s", None), ("6s junk", None)],
)  # fmt: skip
def test_rate_limit_reset_durations(text: str, seconds: float | None) -> None:
    assert parse_duration(text) == (None if seconds is None else pytest.approx(seconds))


# --- pricing what the gateway calls things ---------------------------------------------


async def test_an_alias_priced_as_a_known_model(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.reply_with(ChatReply(prompt_tokens=1000, completion_tokens=500))
    settings = make_settings(
        default_model="aadap-developer", prices={"aadap-developer": "gpt-4o-mini"}
    )
    async with open_client(settings) as client:
        completion = await client.complete(REQUEST)
    assert completion.usage.cost_usd == Decimal("0.00045")
    assert completion.priced_as == "gpt-4o-mini"


async def test_the_upstream_model_a_litellm_gateway_reports_is_priced(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    """LiteLLM answers with the alias in the body and the upstream model in a header."""
    openai_server.reply_with(
        ChatReply(
            prompt_tokens=1000,
            completion_tokens=500,
            model="aadap-developer",
            headers={"x-litellm-model-name": "openai/gpt-4o-mini"},
        )
    )
    async with open_client(make_settings(default_model="aadap-developer")) as client:
        completion = await client.complete(REQUEST)
    assert completion.usage.cost_usd == Decimal("0.00045")
    assert completion.priced_as == "openai/gpt-4o-mini"
    assert completion.reported_models == ("openai/gpt-4o-mini", "aadap-developer")


async def test_a_price_set_for_the_alias_wins_over_the_reported_model(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.reply_with(
        ChatReply(
            prompt_tokens=1_000_000,
            completion_tokens=0,
            headers={"x-litellm-model-name": "openai/gpt-4o-mini"},
        )
    )
    price = PriceOverride(input_per_mtok=Decimal("2"), output_per_mtok=Decimal("8"))
    settings = make_settings(default_model="house", prices={"house": price})
    async with open_client(settings) as client:
        completion = await client.complete(REQUEST)
    assert completion.usage.cost_usd == Decimal("2")
    assert completion.priced_as == "house"


async def test_an_alias_without_a_price_is_unpriced_never_free(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    async with open_client(make_settings(default_model="aadap-developer")) as client:
        completion = await client.complete(REQUEST)
    assert completion.usage.cost_usd is None
    assert completion.priced_as is None
    assert completion.reported_models == ("aadap-developer",)


def test_an_alias_to_a_model_nobody_prices_is_refused_when_the_client_is_built(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(prices={"aadap-parser": "gpt-9-imaginary"})
    with pytest.raises(InvalidConfigurationError) as caught:
        OpenAICompatibleClient(settings)
    message = str(caught.value)
    assert "AADAP_LLM_PRICES['aadap-parser']='gpt-9-imaginary'" in message
    assert '{"aadap-parser": {"input_per_mtok": "0.15", "output_per_mtok": "0.60"}}' in message
