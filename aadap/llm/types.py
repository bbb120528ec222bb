"""The LLM client protocol and its value types.

A client is anything with ``async complete(request) -> Completion``. Providers
(offline, openai, the scripted test double) own their transport; callers see
only these types and the taxonomy's ``LLMError`` family.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One chat completion request.

    ``agent`` names the calling agent (parser, planner, router, developer,
    reviewer, optimiser); providers use it to pick the model. ``context`` carries
    the structured inputs the prompt was rendered from (request text,
    requirement, code, feedback…): real providers ignore it and read the
    messages, the offline provider reads it instead of parsing prose.
    """

    agent: str
    messages: tuple[Message, ...]
    context: dict[str, Any] = field(default_factory=dict)
    json_output: bool = True
    max_output_tokens: int | None = None
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens and cost of one call. ``cost_usd`` is ``None`` when the model is unpriced."""

    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: Decimal | None = Decimal("0")

    @property
    def total_tokens(self) -> int:
        return self.tokens_in + self.tokens_out

    @property
    def priced(self) -> bool:
        return self.cost_usd is not None

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None
            if self.cost_usd is None or other.cost_usd is None
            else self.cost_usd + other.cost_usd
        )
        return Usage(self.tokens_in + other.tokens_in, self.tokens_out + other.tokens_out, cost)


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    provider: str
    usage: Usage
    latency_ms: int = 0
    raw: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class LLMClient(Protocol):
    """What agents call. Implementations raise only ``aadap.core.exceptions.LLMError`` subclasses."""

    provider: str

    async def complete(self, request: LLMRequest) -> Completion: ...

    def model_for(self, agent: str) -> str: ...
