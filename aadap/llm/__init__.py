"""The LLM layer: messages in, ``Completion`` with usage and cost out.

``build_client(settings)`` returns the configured provider: the offline
deterministic provider (no network, zero cost) or any OpenAI-compatible
endpoint. Test doubles live in :mod:`aadap.llm.testing`.
"""

from __future__ import annotations

from aadap.core.config import LLMSettings
from aadap.llm._guard import allow_real_llm
from aadap.llm.openai import OpenAICompatibleClient
from aadap.llm.pricing import price_call, price_from_override, price_usage
from aadap.llm.types import (
    Completion,
    LLMClient,
    LLMRequest,
    Message,
    RetryEvent,
    RetryHook,
    Usage,
)


def build_client(settings: LLMSettings) -> LLMClient:
    """The client for ``settings.provider`` (``"openai"`` or ``"offline"``)."""
    if settings.provider == "openai":
        return OpenAICompatibleClient(settings)
    # Lazy: the offline provider is only imported when configured. Drop the ignore
    # once aadap.llm.offline exports OfflineLLMClient (it is written in parallel).
    from aadap.llm.offline import (  # type: ignore[attr-defined,import-not-found,unused-ignore]
        OfflineLLMClient,
    )

    client: LLMClient = OfflineLLMClient()
    return client


__all__ = [
    "Completion",
    "LLMClient",
    "LLMRequest",
    "Message",
    "OpenAICompatibleClient",
    "RetryEvent",
    "RetryHook",
    "Usage",
    "allow_real_llm",
    "build_client",
    "price_call",
    "price_from_override",
    "price_usage",
]
