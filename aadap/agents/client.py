"""The model the agents talk to, chosen by ``settings.llm.provider``.

``"openai"`` is any OpenAI-compatible endpoint (:mod:`aadap.llm`, transport only);
``"offline"`` is this package's own rule-based implementation of the agents
(:mod:`aadap.agents.offline`), which reads the same prompts and costs nothing.
"""

from __future__ import annotations

from aadap.core.config import LLMSettings
from aadap.llm import LLMClient, OpenAICompatibleClient


def build_client(settings: LLMSettings) -> LLMClient:
    """The client for ``settings.provider`` (``"openai"`` or ``"offline"``)."""
    if settings.provider == "openai":
        return OpenAICompatibleClient(settings)
    # Imported when configured: the rules load DuckDB and sqlglot.
    from aadap.agents.offline import OfflineLLMClient

    return OfflineLLMClient()


__all__ = ["build_client"]
