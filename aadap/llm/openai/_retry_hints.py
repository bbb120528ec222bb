"""How long an endpoint asks a client to wait before retrying, from its response headers.

Honoured in order: ``retry-after-ms``, ``Retry-After`` (seconds or an HTTP-date), then
the ``x-ratelimit-reset-requests``/``-tokens`` durations; each also in the
``llm_provider-`` form in which a LiteLLM gateway relays its upstream's headers.
A value that cannot be read is ignored (the client backs off instead); the client caps
whatever is asked (``AADAP_LLM_MAX_RETRY_WAIT_SECONDS``), so a year never hangs a run.
"""

from __future__ import annotations

import email.utils
import math
import re
from datetime import UTC, datetime

import httpx


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date."""
    if value is None or not value.strip():
        return None
    seconds = _finite_float(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: str | None) -> float | None:
    """Seconds from an ``x-ratelimit-reset-*`` value: ``6s``, ``1m30s``, ``250ms`` or ``7``."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    seconds = _finite_float(text)
    if seconds is not None:
        return max(seconds, 0.0)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)


GATEWAY_PREFIX = "llm_provider-"
"""How LiteLLM relays the upstream provider's response headers."""


def retry_hint(headers: httpx.Headers, *, now: datetime) -> tuple[float, str] | None:
    """The wait an endpoint asks for and the header it came from, or ``None``.

    In order: ``retry-after-ms``, ``retry-after`` (seconds or an HTTP-date), then the
    ``x-ratelimit-reset-requests``/``-tokens`` durations (the longer one); each also
    in the ``llm_provider-`` form a LiteLLM gateway relays the upstream's headers in.
    Unparseable values are ignored; the caller caps the result.
    """
    for prefix in ("", GATEWAY_PREFIX):
        ms = _finite_float(headers.get(f"{prefix}retry-after-ms") or "")
        if ms is not None:
            return max(ms / 1000, 0.0), f"{prefix}retry-after-ms"
        name = f"{prefix}retry-after"
        seconds = parse_retry_after(headers.get(name), now=now)
        if seconds is not None:
            return seconds, name
    for prefix in ("", GATEWAY_PREFIX):
        resets = [
            (seconds, name)
            for name in (f"{prefix}x-ratelimit-reset-requests", f"{prefix}x-ratelimit-reset-tokens")
            if (seconds := parse_duration(headers.get(name))) is not None
        ]
        if resets:
            return max(resets)
    return None


def _finite_float(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


__all__ = ["GATEWAY_PREFIX", "parse_duration", "parse_retry_after", "retry_hint"]
