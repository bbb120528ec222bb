"""When the client retries: the wait between attempts and what each retry reports.

tenacity retries exactly what :func:`aadap.core.exceptions.is_retryable` says is
retryable; :class:`RetryAfterOrBackoff` waits what the endpoint asked for
(``details["retry_after"]``, read by :mod:`aadap.llm.openai._responses`) or backs off
exponentially, both capped; :func:`retry_event` is what the request's ``on_retry`` hook
hears before each wait.
"""

from __future__ import annotations

from tenacity import RetryCallState
from tenacity.wait import wait_base, wait_exponential

from aadap.core.exceptions import LLMError
from aadap.llm.messages import RetryEvent

_BACKOFF_MULTIPLIER_SECONDS = 0.5


class RetryAfterOrBackoff(wait_base):
    """Honour the wait the endpoint asked for; otherwise back off exponentially. Both capped."""

    def __init__(self, cap_seconds: float) -> None:
        self._cap = cap_seconds
        self._backoff = wait_exponential(multiplier=_BACKOFF_MULTIPLIER_SECONDS, max=cap_seconds)

    def __call__(self, retry_state: RetryCallState) -> float:
        hint = _hint(retry_state)
        if hint is not None:
            return min(hint, self._cap)
        return min(float(self._backoff(retry_state)), self._cap)


def _failure(retry_state: RetryCallState) -> BaseException | None:
    outcome = retry_state.outcome
    return outcome.exception() if outcome is not None else None


def _hint(retry_state: RetryCallState) -> float | None:
    exc = _failure(retry_state)
    hint = exc.details.get("retry_after") if isinstance(exc, LLMError) else None
    return float(hint) if isinstance(hint, int | float) else None


def retry_event(retry_state: RetryCallState, max_attempts: int) -> RetryEvent:
    exc = _failure(retry_state)
    details = exc.details if isinstance(exc, LLMError) else {}
    status = details.get("status")
    header = details.get("retry_after_header")
    return RetryEvent(
        attempt=retry_state.attempt_number,
        max_attempts=max_attempts,
        error_code=exc.error_code if isinstance(exc, LLMError) else type(exc).__name__,
        status=status if isinstance(status, int) else None,
        wait_seconds=retry_state.next_action.sleep if retry_state.next_action else 0.0,
        hint_seconds=_hint(retry_state),
        hint_header=header if isinstance(header, str) else None,
        message=str(exc)[:500],
    )


__all__ = ["RetryAfterOrBackoff", "retry_event"]
