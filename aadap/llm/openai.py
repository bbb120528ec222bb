"""A client for any OpenAI-compatible chat completions endpoint.

OpenAI, Azure OpenAI (``api_style="azure"``: deployment in the path, ``api-key``
header), vLLM, Ollama. Transport failures (here) and HTTP status codes and bodies
(:mod:`aadap.llm._openai`) are translated *once* into the taxonomy's ``LLMError``
family; tenacity then retries exactly what
:func:`aadap.core.exceptions.is_retryable` says is retryable.
Nobody above this module sees an ``httpx`` error, and the API key never appears
in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential

from aadap.core.config import LLMSettings, mask_url
from aadap.core.exceptions import (
    InvalidConfigurationError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    MissingConfigurationError,
    is_retryable,
)
from aadap.llm._guard import ensure_real_llm_allowed
from aadap.llm._openai import (
    content_text,
    error_for_status,
    json_body,
    parse_retry_after,
    reported_tokens,
)
from aadap.llm.pricing import price_usage
from aadap.llm.types import Completion, LLMRequest, Usage

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
"""How the client waits between attempts; tests inject one that records instead of sleeping."""

_BACKOFF_MULTIPLIER_SECONDS = 0.5


class _RetryAfterOrBackoff(wait_base):
    """Honour a 429's ``Retry-After``; otherwise back off exponentially. Both capped."""

    def __init__(self, cap_seconds: float) -> None:
        self._cap = cap_seconds
        self._backoff = wait_exponential(multiplier=_BACKOFF_MULTIPLIER_SECONDS, max=cap_seconds)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, LLMRateLimitError):
            hint = exc.details.get("retry_after")
            if isinstance(hint, int | float):
                return min(float(hint), self._cap)
        return min(float(self._backoff(retry_state)), self._cap)


def _log_retry(retry_state: RetryCallState) -> None:
    outcome = retry_state.outcome
    exc = outcome.exception() if outcome is not None else None
    wait = retry_state.next_action.sleep if retry_state.next_action is not None else 0.0
    logger.warning(
        "LLM call attempt %d failed (%s); retrying in %.2fs",
        retry_state.attempt_number,
        exc,
        wait,
    )


class OpenAICompatibleClient:
    """``LLMClient`` for OpenAI-compatible endpoints, with retries inside the client."""

    provider = "openai"

    def __init__(
        self,
        settings: LLMSettings,
        *,
        http_client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not settings.base_url:
            raise MissingConfigurationError(
                "AADAP_LLM_BASE_URL is required for the OpenAI-compatible provider, "
                "e.g. https://api.openai.com/v1 or https://NAME.openai.azure.com"
            )
        base_url = settings.base_url.strip().rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise InvalidConfigurationError(
                f"AADAP_LLM_BASE_URL={mask_url(base_url)!r}: must start with http:// or https://"
            )
        self._settings = settings
        self._base_url = base_url
        self._sleep = sleep
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=settings.timeout_seconds)

    def __repr__(self) -> str:
        settings = self._settings
        return (
            f"{type(self).__name__}(api_style={settings.api_style!r}, "
            f"base_url={mask_url(self._base_url)!r}, default_model={settings.default_model!r})"
        )

    @property
    def pricing_provider(self) -> str:
        """The provider name used to price calls: ``azure`` or ``openai``."""
        return "azure" if self._settings.api_style == "azure" else "openai"

    def model_for(self, agent: str) -> str:
        """The model (or Azure deployment) this agent's requests go to."""
        return self._settings.model_for(agent)

    async def aclose(self) -> None:
        """Close the HTTP client if this instance created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> OpenAICompatibleClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def complete(self, request: LLMRequest) -> Completion:
        ensure_real_llm_allowed(self._settings, provider=self.provider)
        model = self.model_for(request.agent)
        url, params, headers = self._endpoint(model)
        payload = self._payload(request, model)
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(self._settings.max_retries + 1),
            wait=_RetryAfterOrBackoff(self._settings.max_retry_wait_seconds),
            retry=retry_if_exception(is_retryable),
            before_sleep=_log_retry,
            reraise=True,
        )
        body: dict[str, Any]
        latency_ms: int
        body, latency_ms = await retrying(self._post, url, params, headers, payload)
        return self._completion(body, model=model, request=request, latency_ms=latency_ms)

    def _secret(self) -> str | None:
        key = self._settings.api_key
        return key.get_secret_value() if key is not None else None

    def _endpoint(self, model: str) -> tuple[str, dict[str, str], dict[str, str]]:
        key = self._secret()
        if self._settings.api_style == "azure":
            deployment = quote(model, safe="")
            url = f"{self._base_url}/openai/deployments/{deployment}/chat/completions"
            params = {"api-version": self._settings.azure_api_version}
            headers = {"api-key": key} if key else {}
            return url, params, headers
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return f"{self._base_url}/chat/completions", {}, headers

    def _payload(self, request: LLMRequest, model: str) -> dict[str, Any]:
        settings = self._settings
        payload: dict[str, Any] = {
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": settings.temperature
            if request.temperature is None
            else request.temperature,
            "max_tokens": request.max_output_tokens or settings.max_output_tokens,
        }
        if settings.api_style == "openai":
            payload["model"] = model
        if request.json_output:
            payload["response_format"] = {"type": "json_object"}
        return payload

    async def _post(
        self, url: str, params: dict[str, str], headers: dict[str, str], payload: dict[str, Any]
    ) -> tuple[dict[str, Any], int]:
        timeout = self._settings.timeout_seconds
        started = time.perf_counter()
        try:
            response = await self._http.post(
                url, params=params, headers=headers, json=payload, timeout=timeout
            )
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(
                f"LLM request timed out after {timeout}s ({type(exc).__name__})",
                details={"timeout_seconds": timeout},
            ) from exc
        except httpx.TransportError as exc:
            raise LLMServerError(
                f"could not reach the LLM endpoint {mask_url(self._base_url)} "
                f"({type(exc).__name__})",
                details={"reason": type(exc).__name__},
            ) from exc
        except httpx.RequestError as exc:  # e.g. a body that cannot be decoded
            raise LLMResponseError(
                f"unusable response from the LLM endpoint ({type(exc).__name__})",
                details={"reason": type(exc).__name__},
            ) from exc
        latency_ms = round((time.perf_counter() - started) * 1000)
        if not response.is_success:
            raise error_for_status(response, secret=self._secret())
        return json_body(response, secret=self._secret()), latency_ms

    def _completion(
        self, body: dict[str, Any], *, model: str, request: LLMRequest, latency_ms: int
    ) -> Completion:
        text = content_text(body, self._secret())
        tokens = reported_tokens(body, self._secret())
        if tokens is None:
            logger.warning("LLM response for model %r carries no usage; estimating tokens", model)
            prompt_chars = sum(len(m.content) for m in request.messages)
            tokens = (prompt_chars // 4, len(text) // 4)
        tokens_in, tokens_out = tokens
        prices = self._settings.prices
        cost = price_usage(model, self.pricing_provider, tokens_in, tokens_out, prices)
        reported_model = body.get("model")
        if cost is None and isinstance(reported_model, str) and reported_model != model:
            cost = price_usage(reported_model, self.pricing_provider, tokens_in, tokens_out, prices)
        return Completion(
            text=text,
            model=model,
            provider=self.provider,
            usage=Usage(tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=cost),
            latency_ms=latency_ms,
            raw=body,
        )


__all__ = ["OpenAICompatibleClient", "Sleep", "error_for_status", "parse_retry_after"]
