"""The HTTP boundary of the OpenAI-compatible client: responses in, taxonomy out.

Every status code and body shape the client can meet is translated here, once,
into the ``LLMError`` family (429 -> ``LLMRateLimitError`` with
``details["retry_after"]``, 401/403 -> ``LLMAuthenticationError``, 408 ->
``LLMTimeoutError``, 5xx -> ``LLMServerError``, other 4xx and unusable bodies ->
``LLMResponseError``). Messages quote the status and a short excerpt of the body
with the API key scrubbed out.
"""

from __future__ import annotations

import email.utils
import math
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

_EXCERPT_CHARS = 200


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    seconds = _finite_float(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def _finite_float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _excerpt(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "…"


def error_for_status(response: httpx.Response, *, secret: str | None) -> LLMError:
    """Translate a non-2xx response into the taxonomy (the key is scrubbed from the body)."""
    status = response.status_code
    excerpt = _excerpt(response.text, secret)
    details: dict[str, Any] = {"status": status, "body_excerpt": excerpt}
    if status == 429:
        hint = response.headers.get("retry-after-ms")
        ms = None if hint is None else _finite_float(hint)
        retry_after = (
            max(ms / 1000, 0.0)
            if ms is not None
            else parse_retry_after(response.headers.get("retry-after"), now=datetime.now(UTC))
        )
        details["retry_after"] = retry_after
        hint_text = "" if retry_after is None else f", retry after {retry_after:g}s"
        return LLMRateLimitError(
            f"LLM endpoint rate limited the request (HTTP 429{hint_text}): {excerpt}",
            details=details,
        )
    if status in (401, 403):
        return LLMAuthenticationError(
            f"LLM endpoint rejected the credentials (HTTP {status}); check AADAP_LLM_API_KEY "
            f"and AADAP_LLM_API_STYLE: {excerpt}",
            details=details,
        )
    if status == 408:
        return LLMTimeoutError(f"LLM endpoint timed out (HTTP 408): {excerpt}", details=details)
    if status >= 500:
        return LLMServerError(f"LLM endpoint failed (HTTP {status}): {excerpt}", details=details)
    return LLMResponseError(
        f"LLM endpoint refused the request (HTTP {status}): {excerpt}", details=details
    )


def json_body(response: httpx.Response, *, secret: str | None) -> dict[str, Any]:
    """The JSON object of a 2xx response, or ``LLMResponseError``."""
    excerpt = _excerpt(response.text, secret)
    details = {"status": response.status_code, "body_excerpt": excerpt}
    try:
        body = response.json()
    except ValueError as exc:
        raise LLMResponseError(
            f"LLM endpoint returned malformed JSON (HTTP {response.status_code}): {excerpt}",
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


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
