"""The HTTP boundary of the OpenAI-compatible client: responses in, taxonomy out.

Every status code and body shape the client can meet is translated here, once,
into the ``LLMError`` family: 401/403 and the authentication error types of
OpenAI, Azure OpenAI and a LiteLLM gateway (which answers a bad key with HTTP
400 and its own type) -> ``LLMAuthenticationError``, never retried; 429 ->
``LLMRateLimitError``; 408 -> ``LLMTimeoutError``; 5xx -> ``LLMServerError``;
other 4xx and unusable bodies -> ``LLMResponseError``. A wait the endpoint asks
for (``Retry-After`` and its kin, also as relayed by a gateway) goes in
``details["retry_after"]``. Messages say which setting to fix and quote the status
and a short excerpt of the body with the API key scrubbed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

import httpx

from aadap.core.exceptions import (
    LLMAuthenticationError,
    LLMError,
    LLMRateLimitError,
    LLMResponseError,
    LLMServerError,
    LLMTimeoutError,
)
from aadap.llm.openai._retry_hints import GATEWAY_PREFIX, retry_hint

_EXCERPT_CHARS = 200


def _excerpt(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "…"


@dataclass(frozen=True, slots=True)
class CallSite:
    """What the client asked for, so an error can say which setting to fix."""

    url: str
    model: str
    model_setting: str
    """Where the model name came from, e.g. ``AADAP_LLM_MODELS["parser"]``."""
    gateway_hint: str = ""


@dataclass(frozen=True, slots=True)
class _ErrorBody:
    message: str
    type: str
    code: str

    @classmethod
    def of(cls, response: httpx.Response) -> _ErrorBody:
        """``{"error": {"message", "type", "code"}}`` (OpenAI, Azure, LiteLLM) or ``{"detail"}``."""
        try:
            body = response.json()
        except ValueError:
            return cls("", "", "")
        error = body.get("error", body.get("detail")) if isinstance(body, dict) else None
        if isinstance(error, str):
            return cls(error, "", "")
        if not isinstance(error, dict):
            return cls("", "", "")
        return cls(*(str(error.get(key) or "") for key in ("message", "type", "code")))


_AUTH_TYPES = frozenset(
    {
        # OpenAI and Azure OpenAI
        "invalid_api_key", "invalid_authentication", "authentication_error", "401",
        "PermissionDenied", "AuthenticationTypeDisabled",
        # LiteLLM proxy (``ProxyErrorTypes``): its own key checks
        "auth_error", "no_db_connection", "token_not_found_in_db", "expired_key",
        "auth_provider_unavailable",
    }
)  # fmt: skip
_MODEL_TYPES = frozenset({"model_not_found", "DeploymentNotFound", "invalid_model"})


def _is_html(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "")
    return "html" in kind or response.text.lstrip()[:1] == "<"


def _relayed(response: httpx.Response, error: _ErrorBody) -> bool:
    """The answer relays an upstream provider's failure through a gateway (LiteLLM)."""
    return any(name.startswith(GATEWAY_PREFIX) for name in response.headers) or (
        error.message.startswith("litellm.") and "Exception - " in error.message
    )


def error_for_status(response: httpx.Response, *, secret: str | None, site: CallSite) -> LLMError:
    """Translate a non-2xx response into the taxonomy (the key is scrubbed from the body)."""
    status = response.status_code
    excerpt = _excerpt(response.text, secret)
    error = _ErrorBody.of(response)
    details: dict[str, Any] = {
        "status": status, "body_excerpt": excerpt, "error_type": error.type or error.code,
        "model": site.model,
    }  # fmt: skip
    hint = retry_hint(response.headers, now=datetime.now(UTC))
    if hint is not None:
        details["retry_after"], details["retry_after_header"] = hint
    wait_text = "" if hint is None else f", retry after {hint[0]:g}s ({hint[1]})"
    kind = f"HTTP {status}" + (f", {error.type or error.code}" if error.type or error.code else "")
    if status in (401, 403) or error.type in _AUTH_TYPES or error.code in _AUTH_TYPES:
        return _auth_error(response, error, kind, excerpt, details)
    if status == 429:
        return LLMRateLimitError(
            f"LLM endpoint rate limited the request ({kind}{wait_text}): {excerpt}",
            details=details,
        )
    if status == 408:
        return LLMTimeoutError(
            f"LLM endpoint timed out ({kind}{wait_text}): {excerpt}", details=details
        )
    if status >= 500:
        return LLMServerError(
            f"LLM endpoint failed ({kind}{wait_text}){_html_hint(response)}: {excerpt}",
            details=details,
        )
    if _unknown_model(status, error, site):
        return LLMResponseError(
            f"the LLM endpoint does not know the model {site.model!r} ({kind}); it comes from "
            f"{site.model_setting}: use a model (or gateway alias, or Azure deployment) the "
            f"endpoint serves: {excerpt}",
            details=details,
        )
    if status == 404:
        return LLMResponseError(
            f"the LLM endpoint has no {site.url} (HTTP 404){_html_hint(response)}; "
            "check AADAP_LLM_BASE_URL (AADAP appends /chat/completions to it, e.g. "
            "https://api.openai.com/v1, http://localhost:4000/v1 for a LiteLLM gateway, "
            f"https://NAME.openai.azure.com with AADAP_LLM_API_STYLE=azure): {excerpt}",
            details=details,
        )
    return LLMResponseError(
        f"LLM endpoint refused the request ({kind}){_html_hint(response)}: {excerpt}",
        details=details,
    )


def _auth_error(
    response: httpx.Response,
    error: _ErrorBody,
    kind: str,
    excerpt: str,
    details: dict[str, Any],
) -> LLMAuthenticationError:
    if _relayed(response, error):
        details["relayed"] = True
        return LLMAuthenticationError(
            f"the gateway's upstream provider rejected the gateway's own credentials ({kind}, "
            "relayed by the gateway); AADAP_LLM_API_KEY was accepted by the gateway: fix the "
            f"provider key in the gateway's configuration: {excerpt}",
            details=details,
        )
    advice = (
        "; the LiteLLM gateway has no database to look up virtual keys: use its master key "
        "or connect its database"
        if "no_db_connection" in (error.type, error.code)
        else ""
    )
    return LLMAuthenticationError(
        f"LLM endpoint rejected the credentials ({kind}); check AADAP_LLM_API_KEY "
        f"(a gateway's virtual or master key, or the provider's key) and AADAP_LLM_API_STYLE "
        f"(azure sends it as api-key){advice}: {excerpt}",
        details=details,
    )


def _unknown_model(status: int, error: _ErrorBody, site: CallSite) -> bool:
    if error.type in _MODEL_TYPES or error.code in _MODEL_TYPES:
        return True
    text = error.message.lower()
    return status in (400, 404) and (
        "invalid model name" in text
        or ("model" in text and ("does not exist" in text or "not found" in text))
    )


def _html_hint(response: httpx.Response) -> str:
    if not _is_html(response):
        return ""
    return (
        "; it answered an HTML page, not JSON: AADAP_LLM_BASE_URL may point at a web page, "
        "a login portal or a proxy's error page instead of the API"
    )


def json_body(response: httpx.Response, *, secret: str | None) -> dict[str, Any]:
    """The JSON object of a 2xx response, or ``LLMResponseError``."""
    excerpt = _excerpt(response.text, secret)
    details = {"status": response.status_code, "body_excerpt": excerpt}
    try:
        body = response.json()
    except ValueError as exc:
        raise LLMResponseError(
            f"LLM endpoint returned malformed JSON (HTTP {response.status_code})"
            f"{_html_hint(response)}: {excerpt}",
            details=details,
        ) from exc
    if not isinstance(body, dict):
        raise LLMResponseError(
            f"LLM endpoint returned JSON that is not an object: {excerpt}", details=details
        )
    return body


def content_text(body: dict[str, Any], secret: str | None) -> str:
    """``choices[0].message.content``, which must be text."""
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMResponseError(
            f"LLM response has no choices[0].message.content: {_excerpt(str(body), secret)}",
            details={"body_excerpt": _excerpt(str(body), secret)},
        ) from exc
    if not isinstance(content, str):
        raise LLMResponseError(
            f"LLM response content is {type(content).__name__}, not text "
            f"(finish_reason={body['choices'][0].get('finish_reason')!r})",
            details={"body_excerpt": _excerpt(str(body), secret)},
        )
    return content


def reported_tokens(body: dict[str, Any], secret: str | None) -> tuple[int, int] | None:
    """``(prompt_tokens, completion_tokens)``, or ``None`` when the body has no usage."""
    usage = body.get("usage")
    if usage is None:
        return None
    tokens_in = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    tokens_out = usage.get("completion_tokens") if isinstance(usage, dict) else None
    if not _is_count(tokens_in) or not _is_count(tokens_out):
        raise LLMResponseError(
            f"LLM response has an invalid usage block: {_excerpt(str(usage), secret)}",
            details={"body_excerpt": _excerpt(str(usage), secret)},
        )
    return tokens_in, tokens_out


_UPSTREAM_MODEL_HEADERS = ("x-litellm-model-name",)
"""Response headers in which a gateway names the upstream model it routed to (LiteLLM:
``openai/gpt-4o-mini``; its body's ``model`` repeats the alias it was asked for)."""


def reported_models(body: dict[str, Any], headers: httpx.Headers) -> tuple[str, ...]:
    """The models the endpoint says it used: a gateway's upstream model, then the body's."""
    names = [headers.get(name, "").strip() for name in _UPSTREAM_MODEL_HEADERS]
    model = body.get("model")
    names.append(model.strip() if isinstance(model, str) else "")
    return tuple(dict.fromkeys(name for name in names if name))


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
