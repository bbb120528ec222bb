"""The OpenAI-compatible provider: one client for OpenAI, Azure OpenAI and gateways.

:mod:`~aadap.llm.openai.chat_client` is the client itself (endpoint, payload, retries,
usage and price); :mod:`~aadap.llm.openai._responses` translates HTTP statuses and
bodies into the taxonomy; :mod:`~aadap.llm.openai._retry_hints` reads how long an
endpoint asks to wait; :mod:`~aadap.llm.openai._retrying` is the wait between attempts.
"""

from __future__ import annotations

from aadap.llm.openai._responses import error_for_status, reported_models
from aadap.llm.openai._retry_hints import parse_retry_after
from aadap.llm.openai.chat_client import OpenAICompatibleClient, Sleep

__all__ = [
    "OpenAICompatibleClient",
    "Sleep",
    "error_for_status",
    "parse_retry_after",
    "reported_models",
]
