"""A client for any OpenAI-compatible chat completions endpoint.

OpenAI, Azure OpenAI (``api_style="azure"``: deployment in the path, ``api-key``
header), a LiteLLM gateway, vLLM, Ollama. Transport failures (here) and HTTP status
codes and bodies (:mod:`aadap.llm.openai._responses`) are translated *once* into the
taxonomy's ``LLMError`` family; tenacity then retries exactly what
:func:`aadap.core.exceptions.is_retryable` says is retryable, after the wait the
endpoint asked for (:mod:`aadap.llm.openai._retry_hints`, capped) or an exponential
backoff (:mod:`aadap.llm.openai._retrying`), and tells the request's ``on_retry`` hook
before each wait. A call is priced as the configured name or the model the endpoint
reports (:mod:`aadap.llm.pricing`). Nobody above this module sees an ``httpx`` error,
and the API key never appears in a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from aadap.core.config import LLMSettings, PriceSetting, mask_url
from aadap.core.exceptions import (
    InvalidConfigurationError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
    MissingConfigurationError,
    is_retryable,
)
from aadap.llm._guard import ensure_real_llm_allowed
from aadap.llm.messages import Completion, LLMRequest, Usage
from aadap.llm.openai._responses import (
    CallSite,
    content_text,
    error_for_status,
    json_body,
    reported_models,
    reported_tokens,
)
from aadap.llm.openai._retrying import RetryAfterOrBackoff, retry_event
from aadap.llm.pricing import PRICE_EXAMPLE, known_price, price_call

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
"""How the client waits between attempts; tests inject one that records instead of sleeping."""


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
        if base_url.endswith("/chat/completions"):
            raise InvalidConfigurationError(
                f"AADAP_LLM_BASE_URL={mask_url(base_url)!r} ends with /chat/completions, which "
                "AADAP appends itself (the path would be doubled): use "
                f"{mask_url(base_url.removesuffix('/chat/completions'))!r}"
            )
        check_price_aliases(settings.prices, "azure" if settings.api_style == "azure" else "openai")
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
        site = CallSite(url=url, model=model, model_setting=self._model_setting(request.agent))
        payload = self._payload(request, model)
        attempts = self._settings.max_retries + 1
        retrying = AsyncRetrying(
            sleep=self._sleep,
            stop=stop_after_attempt(attempts),
            wait=RetryAfterOrBackoff(self._settings.max_retry_wait_seconds),
            retry=retry_if_exception(is_retryable),
            before_sleep=self._before_sleep(request, attempts),
            reraise=True,
        )
        reply: _Reply = await retrying(self._post, site, params, headers, payload)
        return self._completion(reply, model=model, request=request)

    def _model_setting(self, agent: str) -> str:
        if agent in self._settings.models:
            return f"AADAP_LLM_MODELS[{agent!r}]"
        return "AADAP_LLM_DEFAULT_MODEL"

    @staticmethod
    def _before_sleep(
        request: LLMRequest, attempts: int
    ) -> Callable[[RetryCallState], Awaitable[None]]:
        async def before_sleep(retry_state: RetryCallState) -> None:
            event = retry_event(retry_state, attempts)
            logger.warning(
                "LLM call attempt %d of %d failed (%s, HTTP %s); retrying in %.2fs",
                event.attempt, attempts, event.error_code, event.status, event.wait_seconds,
            )  # fmt: skip
            if request.on_retry is not None:
                await request.on_retry(event)

        return before_sleep

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
        self,
        site: CallSite,
        params: dict[str, str],
        headers: dict[str, str],
        payload: dict[str, Any],
    ) -> _Reply:
        timeout = self._settings.timeout_seconds
        started = time.perf_counter()
        try:
            response = await self._http.post(
                site.url, params=params, headers=headers, json=payload, timeout=timeout
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
            raise error_for_status(response, secret=self._secret(), site=site)
        body = json_body(response, secret=self._secret())
        return _Reply(body, response.headers, latency_ms)

    def _completion(self, reply: _Reply, *, model: str, request: LLMRequest) -> Completion:
        body = reply.body
        text = content_text(body, self._secret())
        tokens = reported_tokens(body, self._secret())
        if tokens is None:
            logger.warning("LLM response for model %r carries no usage; estimating tokens", model)
            prompt_chars = sum(len(m.content) for m in request.messages)
            tokens = (prompt_chars // 4, len(text) // 4)
        tokens_in, tokens_out = tokens
        reported = reported_models(body, reply.headers)
        price = price_call(
            model, self.pricing_provider, tokens_in, tokens_out, self._settings.prices,
            reported=reported,
        )  # fmt: skip
        return Completion(
            text=text,
            model=model,
            provider=self.provider,
            usage=Usage(tokens_in=tokens_in, tokens_out=tokens_out, cost_usd=price.cost_usd),
            latency_ms=reply.latency_ms,
            raw=body,
            reported_models=reported,
            priced_as=price.priced_as,
        )


@dataclass(frozen=True, slots=True)
class _Reply:
    body: dict[str, Any]
    headers: httpx.Headers
    latency_ms: int


def check_price_aliases(prices: Mapping[str, PriceSetting], provider: str) -> None:
    """Refuse ``AADAP_LLM_PRICES`` entries that alias a model no price list knows."""
    for name, setting in prices.items():
        if isinstance(setting, str) and known_price(setting, provider, 0, 0) is None:
            raise InvalidConfigurationError(
                f"AADAP_LLM_PRICES[{name!r}]={setting!r}: no known price for model "
                f'{setting!r}; name a known model (e.g. "gpt-4o-mini") or give the price: '
                f"{{{json.dumps(name)}: {PRICE_EXAMPLE}}} (USD per million tokens)"
            )


__all__ = ["OpenAICompatibleClient", "Sleep", "check_price_aliases"]
