"""Deterministic LLM doubles that ship with the package.

:class:`ScriptedLLMClient` plays a script — texts, functions of the request,
exceptions to raise — and records every request; :class:`FunctionLLMClient`
answers every request with a function. Both return a ``Completion`` with usage
(tokens estimated as ``len(text) // 4`` unless a :class:`Reply` says otherwise)
and a cost from an optional fixed :class:`~aadap.core.config.PriceOverride`, so
budget tests can be written without a network.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from aadap.core.config import PriceOverride
from aadap.core.exceptions import LLMResponseError
from aadap.llm._guard import allow_real_llm
from aadap.llm.messages import Completion, LLMClient, LLMRequest, Usage
from aadap.llm.pricing import price_from_override

Responder = Callable[[LLMRequest], str]


@dataclass(frozen=True, slots=True)
class Reply:
    """A scripted answer with, optionally, the exact usage to report for it."""

    text: str | Responder
    usage: Usage | None = None


ScriptStep = str | Responder | Reply | BaseException | type[BaseException]
"""One step of a script: a text, a function of the request, a ``Reply``, or an error to raise."""


def estimate_usage(request: LLMRequest, text: str, price: PriceOverride | None) -> Usage:
    """Tokens as characters // 4; cost from ``price`` (free without one)."""
    tokens_in = sum(len(message.content) for message in request.messages) // 4
    tokens_out = len(text) // 4
    cost = Decimal("0") if price is None else price_from_override(price, tokens_in, tokens_out)
    return Usage(tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost)


class _RecordingClient:
    provider = "recording"

    def __init__(self, *, model: str, price: PriceOverride | None) -> None:
        self.model = model
        self.price = price
        self.requests: list[LLMRequest] = []

    def model_for(self, agent: str) -> str:
        del agent
        return self.model

    def _completion(self, request: LLMRequest, text: str, usage: Usage | None) -> Completion:
        return Completion(
            text=text,
            model=self.model,
            provider=self.provider,
            usage=usage if usage is not None else estimate_usage(request, text, self.price),
        )


class ScriptedLLMClient(_RecordingClient):
    """Answers requests from a script, in order; records every request in ``requests``.

    ``ScriptedLLMClient([LLMRateLimitError("rate limited"), LLMRateLimitError, '{"ok": true}'])``
    raises twice and then answers. When the script runs out, ``complete`` raises
    ``LLMResponseError("script exhausted …")`` (not retryable, so retries cannot hide it).
    """

    __test__ = False
    provider = "scripted"

    def __init__(
        self,
        script: Iterable[ScriptStep],
        *,
        model: str = "scripted",
        price: PriceOverride | None = None,
    ) -> None:
        super().__init__(model=model, price=price)
        self._script: deque[ScriptStep] = deque(script)
        self._scripted = len(self._script)

    @property
    def remaining(self) -> int:
        """Steps not played yet (assert ``== 0`` to check a test used its whole script)."""
        return len(self._script)

    async def complete(self, request: LLMRequest) -> Completion:
        self.requests.append(request)
        if not self._script:
            raise LLMResponseError(
                f"script exhausted: request #{len(self.requests)} (agent={request.agent!r}) "
                f"but only {self._scripted} step(s) were scripted",
                agent_id=request.agent,
            )
        step = self._script.popleft()
        if isinstance(step, BaseException):
            raise step
        if isinstance(step, type):
            raise step(f"scripted {step.__name__}")
        if isinstance(step, Reply):
            text = step.text if isinstance(step.text, str) else step.text(request)
            return self._completion(request, text, step.usage)
        text = step if isinstance(step, str) else step(request)
        return self._completion(request, text, None)


class FunctionLLMClient(_RecordingClient):
    """Answers every request with ``fn(request)``; records every request in ``requests``."""

    __test__ = False
    provider = "function"

    def __init__(
        self,
        fn: Responder,
        *,
        model: str = "function",
        price: PriceOverride | None = None,
    ) -> None:
        super().__init__(model=model, price=price)
        self._fn = fn

    async def complete(self, request: LLMRequest) -> Completion:
        self.requests.append(request)
        return self._completion(request, self._fn(request), None)


class FaultInjectingLLMClient(_RecordingClient):
    """Delegates to ``inner`` (e.g. ``aadap.agents.offline.OfflineLLMClient``) except where a per-agent script says otherwise.

    ``FaultInjectingLLMClient(OfflineLLMClient(), {"developer": [LLMRateLimitError, LLMRateLimitError]})``
    makes the developer's first two calls fail with a rate limit and lets every
    other call through. Script steps are those of :class:`ScriptedLLMClient`.
    ``price`` puts a cost on delegated calls so USD budgets can be exercised.
    """

    __test__ = False

    def __init__(
        self,
        inner: LLMClient,
        faults: dict[str, Iterable[ScriptStep]] | None = None,
        *,
        price: PriceOverride | None = None,
    ) -> None:
        super().__init__(model=inner.model_for("developer"), price=price)
        self.inner = inner
        self.provider = inner.provider
        self._faults = {agent: deque(steps) for agent, steps in (faults or {}).items()}

    def model_for(self, agent: str) -> str:
        return self.inner.model_for(agent)

    def inject(self, agent: str, *steps: ScriptStep) -> None:
        self._faults.setdefault(agent, deque()).extend(steps)

    async def complete(self, request: LLMRequest) -> Completion:
        self.requests.append(request)
        pending = self._faults.get(request.agent)
        if pending:
            step = pending.popleft()
            if isinstance(step, BaseException):
                raise step
            if isinstance(step, type):
                raise step(f"injected {step.__name__}")
            text = step.text if isinstance(step, Reply) and isinstance(step.text, str) else None
            if isinstance(step, Reply) and not isinstance(step.text, str):
                text = step.text(request)
            elif not isinstance(step, Reply):
                text = step if isinstance(step, str) else step(request)
            assert text is not None
            return self._completion(request, text, step.usage if isinstance(step, Reply) else None)
        completion = await self.inner.complete(request)
        if self.price is None:
            return completion
        usage = estimate_usage(request, completion.text, self.price)
        return Completion(
            completion.text, completion.model, completion.provider, usage, completion.latency_ms
        )


__all__ = [
    "FaultInjectingLLMClient",
    "FunctionLLMClient",
    "Reply",
    "Responder",
    "ScriptStep",
    "ScriptedLLMClient",
    "allow_real_llm",
    "estimate_usage",
]
