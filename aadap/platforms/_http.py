"""Error translation and the one retry loop shared by the remote platforms.

Each client translates its transport's errors into the taxonomy exactly once
(:func:`error_for_status` for an HTTP status, :func:`error_for_transport` for
a connection failure or timeout); :func:`with_retries` then retries what
:func:`aadap.core.exceptions.is_retryable` says is transient, a bounded number
of times, honouring a server's ``Retry-After``.

``Retry-After`` is waited out in full up to ``retry_after_max_seconds`` (a
platform setting, default 300 s). A longer hint is not shortened: the call
stops retrying and raises its (retryable) error with ``details['retry_after']``,
so the task-level retry or the operator decides when to come back.

**Writes are not resent blindly.** A call that creates something (a Databricks
statement, a Fabric notebook job) is retried only when the failure proves the
service did not act on it (:func:`resend_is_safe`: 429, 503, or a connection
that was never made). A timeout or 5xx after the request was sent is
ambiguous: the caller checks whether the first attempt took effect, else
raises :func:`ambiguous_write` (not retryable).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar, cast

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base

from aadap.core.enums import PlatformKind
from aadap.core.exceptions import (
    AADAPError,
    DeploymentFailedError,
    PlatformAuthenticationError,
    PlatformConnectionError,
    PlatformRateLimitError,
    PlatformTimeoutError,
    is_retryable,
)
from aadap.platforms.protocol import Sleep

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_ATTEMPTS = 4
"""Attempts per API call (1 try + 3 retries) before a transient error is raised."""

MAX_RETRY_WAIT_SECONDS = 300.0
"""Default for ``retry_after_max_seconds``: the longest ``Retry-After`` a call waits out."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: an integer, or an HTTP date (RFC 9110); ``None`` if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_for_status(
    status: int,
    *,
    platform: PlatformKind,
    operation: str,
    message: str,
    retry_after: float | None = None,
    details: dict[str, Any] | None = None,
) -> AADAPError:
    """The taxonomy error for an HTTP error status.

    401/403 → ``PlatformAuthenticationError`` (not retried); 429 →
    ``PlatformRateLimitError``; 408/504 → ``PlatformTimeoutError``; other 5xx →
    ``PlatformConnectionError`` (all three retried, with ``details['retry_after']``
    when the server sent one); any other 4xx means the platform rejected the
    request → ``DeploymentFailedError`` (not retried).
    """
    info: dict[str, Any] = {
        "platform": platform.value,
        "operation": operation,
        "status_code": status,
    }
    info.update(details or {})
    if retry_after is not None:
        info["retry_after"] = retry_after
    text = f"{platform.value} {operation} failed with HTTP {status}: {message}"
    if status in (401, 403):
        return PlatformAuthenticationError(text, details=info)
    if status == 429:
        return PlatformRateLimitError(text, details=info)
    if status in (408, 504):
        return PlatformTimeoutError(text, details=info)
    if status >= 500:
        return PlatformConnectionError(text, details=info)
    return DeploymentFailedError(text, details=info)


def error_for_transport(
    exc: BaseException,
    *,
    platform: PlatformKind,
    operation: str,
    timed_out: bool,
    sent: bool,
) -> AADAPError:
    """A connection failure (``PlatformConnectionError``) or timeout (``PlatformTimeoutError``).

    ``sent`` says whether the request may have reached the service
    (``details['request_sent']``): a refused connection or a connect timeout
    was not sent; a read timeout or a connection dropped mid-answer may have been.
    """
    kind = "timed out" if timed_out else "could not connect"
    cls = PlatformTimeoutError if timed_out else PlatformConnectionError
    return cls(
        f"{platform.value} {operation} {kind}: {type(exc).__name__}: {exc}",
        details={"platform": platform.value, "operation": operation, "request_sent": sent},
    )


def resend_is_safe(exc: BaseException) -> bool:
    """Whether a write that failed with ``exc`` certainly did not take effect, so may be resent.

    True for 429 (throttled before processing), 503 (the service refused it) and
    a transport error raised before the request was sent; false for everything
    else, including timeouts and other 5xx answers after it was sent.
    """
    if not isinstance(exc, AADAPError) or not exc.retryable:
        return False
    status = exc.details.get("status_code")
    if status is not None:
        return status in (429, 503)
    return exc.details.get("request_sent") is False


def ambiguous_write(exc: AADAPError, *, what: str) -> DeploymentFailedError:
    """The error for a write whose outcome is unknown: not retryable, so it is never sent twice."""
    return DeploymentFailedError(
        f"{what} may or may not have taken effect ({exc.message}); it is not sent again "
        "automatically: check the platform before running it again",
        details={**exc.details, "ambiguous": True, "cause": exc.error_code},
    )


_BACKOFF_CAP_SECONDS = 30.0


def _hint(exc: BaseException | None) -> float | None:
    hinted = exc.details.get("retry_after") if isinstance(exc, AADAPError) else None
    return float(max(hinted, 0.0)) if isinstance(hinted, int | float) else None


class _RetryAfterOrBackoff(wait_base):
    """Wait exactly what the server asked for, else 0.5 s, 1 s, 2 s, … (up to 30 s)."""

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        hinted = _hint(exc)
        if hinted is not None:
            return hinted
        return float(min(0.5 * 2 ** (retry_state.attempt_number - 1), _BACKOFF_CAP_SECONDS))


def _log_retry(retry_state: RetryCallState) -> None:
    exc = retry_state.outcome.exception() if retry_state.outcome else None
    wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
    log.warning(
        "platform call failed (attempt %d), retrying in %.2fs: %s",
        retry_state.attempt_number,
        wait,
        exc,
    )


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    sleep: Sleep,
    attempts: int = DEFAULT_ATTEMPTS,
    max_wait: float = MAX_RETRY_WAIT_SECONDS,
    write: bool = False,
) -> T:
    """Await ``call()``; retry taxonomy errors that are retryable, up to ``attempts`` in all.

    ``call`` must already raise taxonomy errors. The last error is re-raised
    unchanged when the attempts run out, when the server asks to wait longer
    than ``max_wait``, or (``write=True``) when resending is not known to be safe
    (:func:`resend_is_safe`).
    """
    allowed = resend_is_safe if write else is_retryable

    def should_retry(exc: BaseException) -> bool:
        hinted = _hint(exc)
        return allowed(exc) and (hinted is None or hinted <= max_wait)

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(max(1, attempts)),
        retry=retry_if_exception(should_retry),
        wait=_RetryAfterOrBackoff(),
        before_sleep=_log_retry,
        reraise=True,
    )
    return cast(T, await retrying(call))


__all__ = [
    "DEFAULT_ATTEMPTS",
    "MAX_RETRY_WAIT_SECONDS",
    "ambiguous_write",
    "error_for_status",
    "error_for_transport",
    "parse_retry_after",
    "resend_is_safe",
    "with_retries",
]
