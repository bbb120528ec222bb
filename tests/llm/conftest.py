"""Fixtures for the LLM layer: a fake OpenAI-compatible server over real HTTP, injected time."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from aadap.core.config import LLMSettings
from aadap.llm.openai import OpenAICompatibleClient
from tests.fakes.openai_server import FakeOpenAIServer


class RecordingSleep:
    """Stands in for ``asyncio.sleep``: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def _isolated_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read ``AADAP_LLM_*``; a developer's shell must not change these tests."""
    for name in list(os.environ):
        if name.startswith("AADAP_LLM_"):
            monkeypatch.delenv(name)


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server
    assert server.errors == [], f"the fake server failed internally: {server.errors!r}"


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


SettingsFactory = Callable[..., LLMSettings]


@pytest.fixture
def make_settings(openai_server: FakeOpenAIServer) -> SettingsFactory:
    """LLM settings pointed at the fake server (OpenAI style unless overridden)."""

    def build(**overrides: Any) -> LLMSettings:
        values: dict[str, Any] = {
            "provider": "openai",
            "base_url": openai_server.openai_base_url,
            "api_key": SecretStr(openai_server.api_key),
            "default_model": "gpt-4o-mini",
            "max_retries": 3,
            "max_retry_wait_seconds": 30.0,
            "timeout_seconds": 5.0,
            "allow_in_tests": True,
        }
        if overrides.get("api_style") == "azure":
            values["base_url"] = openai_server.url
        values.update(overrides)
        return LLMSettings(**values)

    return build


@pytest.fixture
def open_client(sleep: RecordingSleep) -> Callable[[LLMSettings], Any]:
    """``async with open_client(settings) as client:`` — a production client on a real httpx client."""

    @asynccontextmanager
    async def open_(settings: LLMSettings) -> AsyncIterator[OpenAICompatibleClient]:
        async with httpx.AsyncClient() as http:
            yield OpenAICompatibleClient(settings, http_client=http, sleep=sleep)

    return open_
