"""The LLM layer: messages in, ``Completion`` with usage and cost out.

Transport, usage and pricing only: :class:`OpenAICompatibleClient` talks to any
OpenAI-compatible endpoint. The offline rule-based model is an implementation of the
agents and lives beside them (:mod:`aadap.agents.offline`); the agents' choice between
the two is :func:`aadap.agents.client.build_client`. Test doubles live in
:mod:`aadap.llm.testing`.
"""

from __future__ import annotations

from aadap.llm._guard import allow_real_llm
from aadap.llm.messages import (
    Completion,
    LLMClient,
    LLMRequest,
    Message,
    RetryEvent,
    RetryHook,
    Usage,
)
from aadap.llm.openai import OpenAICompatibleClient
from aadap.llm.pricing import price_call, price_from_override, price_usage

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
    "price_call",
    "price_from_override",
    "price_usage",
]
