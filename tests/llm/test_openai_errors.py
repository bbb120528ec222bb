"""Retries and error translation of the OpenAI-compatible client, over real HTTP."""

from __future__ import annotations

import logging
import pickle
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from aadap.core.exceptions import (
    LLMAuthenticationError,
    LLMError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    is_retryable,
)
from aadap.llm.messages import LLMRequest, Message
from aadap.llm.openai import OpenAICompatibleClient, parse_retry_after
from tests.fakes.openai_server import FakeOpenAIServer, Fault
from tests.llm.conftest import RecordingSleep, SettingsFactory

REQUEST = LLMRequest(
    agent="developer",
    messages=(Message("system", "Answer in JSON."), Message("user", "dedupe orders")),
)


async def test_429_twice_then_success_honours_retry_after(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault.rate_limited("2"), Fault.rate_limited("7"))
    async with open_client(make_settings(max_retries=3)) as client:
        completion = await client.complete(REQUEST)

    assert completion.text == '{"ok": true}'
    assert len(openai_server.requests) == 3
    assert sleep.calls == [2.0, 7.0]


@pytest.mark.parametrize(
    "retry_after",
    [
        pytest.param("120", id="seconds"),
        pytest.param(
            format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True), id="http-date"
        ),
    ],
)
async def test_retry_after_is_capped_by_max_retry_wait_seconds(
    retry_after: str,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault.rate_limited(retry_after))
    async with open_client(make_settings(max_retry_wait_seconds=12.5)) as client:
        await client.complete(REQUEST)

    assert sleep.calls == [12.5]
    assert len(openai_server.requests) == 2


async def test_429_exhausted_raises_the_rate_limit_error_with_its_hint(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(*[Fault.rate_limited("1")] * 3)
    async with open_client(make_settings(max_retries=2)) as client:
        with pytest.raises(LLMRateLimitError) as caught:
            await client.complete(REQUEST)

    assert is_retryable(caught.value)
    assert caught.value.details["status"] == 429
    assert caught.value.details["retry_after"] == 1.0
    assert "Rate limit reached" in caught.value.message
    assert len(openai_server.requests) == 3
    assert sleep.calls == [1.0, 1.0]


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_exhausted_raises_retryable_server_error(
    status: int,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(*[Fault.server_error(status)] * 4)
    async with open_client(make_settings(max_retries=3)) as client:
        with pytest.raises(LLMServerError) as caught:
            await client.complete(REQUEST)

    error = caught.value
    assert is_retryable(error)
    assert len(openai_server.requests) == 4  # max_retries + 1
    assert sleep.calls == [0.5, 1.0, 2.0]  # exponential backoff without a Retry-After
    assert error.details["status"] == status
    assert f"HTTP {status}" in str(error)
    assert "injected fault" in str(error)  # a short excerpt of the body
    assert pickle.loads(pickle.dumps(error)).to_dict() == error.to_dict()


async def test_5xx_then_success_recovers(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault.server_error(502))
    async with open_client(make_settings()) as client:
        completion = await client.complete(REQUEST)
    assert completion.usage.tokens_in == 12
    assert len(openai_server.requests) == 2
    assert sleep.calls == [0.5]


async def test_backoff_is_capped_by_max_retry_wait_seconds(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(*[Fault.server_error()] * 5)
    async with open_client(make_settings(max_retries=5, max_retry_wait_seconds=1.5)) as client:
        completion = await client.complete(REQUEST)
    assert completion.text == '{"ok": true}'
    assert sleep.calls == [0.5, 1.0, 1.5, 1.5, 1.5]


async def test_timeout_raises_llm_timeout_error_after_retries(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault.slow(10), Fault.slow(10))
    async with open_client(make_settings(timeout_seconds=0.2, max_retries=1)) as client:
        with pytest.raises(LLMTimeoutError) as caught:
            await client.complete(REQUEST)

    assert is_retryable(caught.value)
    assert "timed out after 0.2s" in str(caught.value)
    assert len(openai_server.requests) == 2
    assert len(sleep.calls) == 1


async def test_connection_refused_is_a_retryable_server_error(
    make_settings: SettingsFactory, open_client: Any, sleep: RecordingSleep
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = make_settings(base_url=f"http://127.0.0.1:{port}/v1", max_retries=2)
    async with open_client(settings) as client:
        with pytest.raises(LLMServerError, match="could not reach") as caught:
            await client.complete(REQUEST)
    assert is_retryable(caught.value)
    assert len(sleep.calls) == 2


@pytest.mark.parametrize("fault", [Fault.unauthorized(), Fault.forbidden()], ids=["401", "403"])
async def test_auth_failures_are_not_retried(
    fault: Fault,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(fault)
    async with open_client(make_settings(max_retries=5)) as client:
        with pytest.raises(LLMAuthenticationError) as caught:
            await client.complete(REQUEST)

    assert not is_retryable(caught.value)
    assert caught.value.details["status"] == fault.status
    assert len(openai_server.requests) == 1
    assert sleep.calls == []


async def test_wrong_key_is_rejected_by_the_server_and_not_retried(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    async with open_client(make_settings(api_key="sk-wrong-key-abcdefgh")) as client:
        with pytest.raises(LLMAuthenticationError, match="HTTP 401"):
            await client.complete(REQUEST)
    assert len(openai_server.requests) == 1


async def test_other_4xx_is_a_response_error_and_not_retried(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault(status=400, body='{"error": {"message": "bad request"}}'))
    async with open_client(make_settings()) as client:
        with pytest.raises(LLMResponseError, match=r"HTTP 400.*bad request"):
            await client.complete(REQUEST)
    assert len(openai_server.requests) == 1
    assert sleep.calls == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param('{"choices": [ not json', "malformed JSON", id="not-json"),
        pytest.param("[1, 2]", "not an object", id="json-array"),
        pytest.param('{"choices": []}', "choices", id="no-choices"),
        pytest.param(
            '{"choices": [{"message": {"content": null}, "finish_reason": "content_filter"}]}',
            "content_filter",
            id="null-content",
        ),
        pytest.param(
            '{"choices": [{"message": {"content": "hi"}}], "usage": {"prompt_tokens": "many"}}',
            "invalid usage",
            id="bad-usage",
        ),
    ],
)
async def test_malformed_bodies_are_response_errors(
    body: str,
    message: str,
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    sleep: RecordingSleep,
) -> None:
    openai_server.fail_next(Fault.malformed(body))
    async with open_client(make_settings()) as client:
        with pytest.raises(LLMResponseError, match=message) as caught:
            await client.complete(REQUEST)
    assert not is_retryable(caught.value)
    assert len(openai_server.requests) == 1
    assert sleep.calls == []


async def test_undecodable_body_is_a_response_error(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    openai_server.fail_next(
        Fault(status=200, body="this is not gzip", headers={"Content-Encoding": "gzip"})
    )
    async with open_client(make_settings()) as client:
        with pytest.raises(LLMResponseError, match="DecodingError"):
            await client.complete(REQUEST)
    assert len(openai_server.requests) == 1


async def test_api_key_never_leaks_into_errors_reprs_or_logs(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = openai_server.api_key
    echo = f'{{"error": "upstream rejected Authorization: Bearer {key}"}}'
    openai_server.fail_next(Fault(status=500, body=echo), Fault(status=401, body=echo))
    settings = make_settings()
    errors: list[LLMError] = []
    with caplog.at_level(logging.DEBUG):
        async with open_client(settings) as client:
            with pytest.raises(LLMAuthenticationError) as caught:
                await client.complete(REQUEST)
            errors.append(caught.value)
            client_repr = repr(client)

    assert len(openai_server.requests) == 2
    assert "HTTP 500" in caplog.text  # the retry was logged…
    surfaces = [client_repr, repr(settings), caplog.text]
    for error in errors:
        surfaces += [str(error), repr(error), str(error.to_dict()), str(error.__cause__)]
    assert "upstream rejected" in str(errors[0])  # …with the body excerpt…
    for surface in surfaces:
        assert key not in surface  # …but never the key


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("3", 3.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("nan", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == expected


async def test_client_repr_shows_where_not_who(make_settings: SettingsFactory) -> None:
    settings = make_settings(base_url="https://user:pw@example.test/v1")
    async with OpenAICompatibleClient(settings) as client:
        text = repr(client)
    assert "example.test" in text
    assert "pw@" not in text
    assert "sk-" not in text
