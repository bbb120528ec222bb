"""Prefect retry options built from settings, and the one retry predicate."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

from aadap.core.config import Settings
from aadap.core.exceptions import is_retryable


async def failure_of(state: Any) -> BaseException | None:
    """The exception a failed state holds (the same object the task raised), or None."""
    try:
        value = await state.aresult(raise_on_failure=False)
    except BaseException as exc:  # noqa: BLE001 - a state without a readable result still tells us why
        return exc
    return value if isinstance(value, BaseException) else None


async def retry_condition(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's ``retry_condition_fn``: retry exactly when the taxonomy says so.

    ``is_retryable`` decides: an ``AADAPError`` answers for itself, Python's
    ``TimeoutError``/``ConnectionError`` are retried, anything else is not.
    """
    error = await failure_of(state)
    return error is not None and is_retryable(error)


def step_options(settings: Settings) -> dict[str, Any]:
    """Options every lifecycle step runs with (retries, backoff and jitter from settings)."""
    retries = settings.retries
    return {
        "retries": retries.task_retries,
        "retry_delay_seconds": retries.delays(),
        "retry_jitter_factor": retries.jitter_factor if retries.backoff_seconds > 0 else None,
        "retry_condition_fn": retry_condition,
        "cache_policy": NO_CACHE,
        "persist_result": False,
    }
