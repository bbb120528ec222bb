"""The guard that keeps real LLM providers out of the test suite."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aadap.core.exceptions import ConfigurationError, InvalidConfigurationError, is_retryable
from aadap.llm import allow_real_llm as exported_allow_real_llm
from aadap.llm._guard import REAL_LLM_IN_TESTS, ensure_real_llm_allowed, running_under_pytest
from aadap.llm.messages import LLMRequest, Message
from aadap.llm.testing import allow_real_llm
from tests.fakes.openai_server import FakeOpenAIServer
from tests.llm.conftest import SettingsFactory

REQUEST = LLMRequest(agent="parser", messages=(Message("user", "hello"),))


async def test_real_client_refuses_to_run_in_tests_without_permission(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    async with open_client(make_settings(allow_in_tests=False)) as client:
        with pytest.raises(ConfigurationError, match="ScriptedLLMClient") as caught:
            await client.complete(REQUEST)

    error = caught.value
    assert isinstance(error, InvalidConfigurationError)
    assert error.details == {"reason": REAL_LLM_IN_TESTS, "provider": "openai"}
    assert "allow_in_tests=True" in error.message
    assert "allow_real_llm" in error.message
    assert not is_retryable(error)
    assert openai_server.requests == []  # refused before any network traffic


async def test_allow_real_llm_context_manager_permits_the_call(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    async with open_client(make_settings(allow_in_tests=False)) as client:
        with allow_real_llm():
            completion = await client.complete(REQUEST)
        with pytest.raises(InvalidConfigurationError):  # permission ends with the block
            await client.complete(REQUEST)
    assert completion.text == '{"ok": true}'
    assert len(openai_server.requests) == 1


async def test_permission_reaches_tasks_started_inside_the_block(
    openai_server: FakeOpenAIServer, make_settings: SettingsFactory, open_client: Any
) -> None:
    async with open_client(make_settings(allow_in_tests=False)) as client:
        with allow_real_llm():
            task = asyncio.create_task(client.complete(REQUEST))
        completion = await task
    assert completion.provider == "openai"


async def test_outside_pytest_the_guard_does_not_interfere(
    openai_server: FakeOpenAIServer,
    make_settings: SettingsFactory,
    open_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with open_client(make_settings(allow_in_tests=False)) as client:
        monkeypatch.delenv("PYTEST_CURRENT_TEST")
        assert not running_under_pytest()
        completion = await client.complete(REQUEST)
    assert completion.text == '{"ok": true}'


def test_guard_decision_table(make_settings: SettingsFactory) -> None:
    assert running_under_pytest()
    with pytest.raises(InvalidConfigurationError):
        ensure_real_llm_allowed(make_settings(allow_in_tests=False), provider="openai")
    ensure_real_llm_allowed(make_settings(allow_in_tests=True), provider="openai")
    with exported_allow_real_llm(), allow_real_llm():
        ensure_real_llm_allowed(make_settings(allow_in_tests=False), provider="openai")
    with pytest.raises(InvalidConfigurationError):  # nested blocks restore the outer state
        ensure_real_llm_allowed(make_settings(allow_in_tests=False), provider="openai")
