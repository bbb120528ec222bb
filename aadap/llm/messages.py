"""The LLM client protocol and its value types.

A client is anything with ``async complete(request) -> Completion``. Providers
(offline, openai, the scripted test double) own their transport; callers see
only these types and the taxonomy's ``LLMError`` family.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class RetryEvent:
    """One failed attempt of an LLM call that the client is about to retry."""

    attempt: int
    """The attempt that failed (1 is the first call)."""
    max_attempts: int
    error_code: str
    status: int | None
    """The HTTP status, or ``None`` for a timeout or a transport failure."""
    wait_seconds: float
    """How long the client waits before the next attempt (after the cap)."""
    hint_seconds: float | None
    """What the endpoint asked for (``Retry-After`` and its kin), before the cap."""
    hint_header: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RetryHook = Callable[[RetryEvent], Awaitable[None]]
"""Called before the client sleeps for a retry (the services layer logs it to ``task_logs``)."""


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One chat completion request.

    ``agent`` names the calling agent (parser, planner, router, developer,
    reviewer, optimiser); providers use it to pick the model. Everything a model
    learns is in ``messages``: there is no side channel.
    """

    agent: str
    messages: tuple[Message, ...]
    json_output: bool = True
    max_output_tokens: int | None = None
    temperature: float | None = None
    on_retry: RetryHook | None = field(default=None, compare=False, repr=False)
    """Told about every retry before the wait; clients that never retry ignore it."""


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
    reported_models: tuple[str, ...] = ()
    """Models the endpoint said it used (the body's ``model``, a gateway's upstream model)."""
    priced_as: str | None = None
    """The model name the cost was computed for; ``None`` when unpriced."""


@runtime_checkable
class LLMClient(Protocol):
    """What agents call. Implementations raise only ``aadap.core.exceptions.LLMError`` subclasses."""

    provider: str

    async def complete(self, request: LLMRequest) -> Completion: ...

    def model_for(self, agent: str) -> str: ...
