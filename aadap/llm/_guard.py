"""Refuse real LLM calls inside the test suite unless a test asks for one.

An accidental real call from a test costs money, is slow and flaky, and hides a
missing test double. Real providers call :func:`ensure_real_llm_allowed` at the
start of every ``complete()``; it raises ``InvalidConfigurationError`` (a
``ConfigurationError``, never retried) with ``details["reason"] ==
"real_llm_in_tests"`` when pytest is running a test, unless the settings say
``allow_in_tests=True`` or the call happens inside :func:`allow_real_llm`.

The error is an existing taxonomy class on purpose: the taxonomy table in
``aadap.core.exceptions`` is the single list of error classes and codes.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from contextvars import ContextVar

from aadap.core.config import LLMSettings
from aadap.core.exceptions import InvalidConfigurationError
from aadap.core.scoping import scoped

_allowed: ContextVar[bool] = ContextVar("aadap_allow_real_llm", default=False)

REAL_LLM_IN_TESTS = "real_llm_in_tests"
"""``details["reason"]`` of the error raised when the guard refuses a call."""


def running_under_pytest() -> bool:
    """True while pytest runs a test (setup, call or teardown)."""
    return "PYTEST_CURRENT_TEST" in os.environ


def allow_real_llm() -> AbstractContextManager[None]:
    """Let real providers run inside this block (and tasks started from it)."""
    return scoped(_allowed, True)


def ensure_real_llm_allowed(settings: LLMSettings, *, provider: str) -> None:
    """Raise ``InvalidConfigurationError`` if a real call would run inside a test."""
    if not running_under_pytest() or settings.allow_in_tests or _allowed.get():
        return
    raise InvalidConfigurationError(
        f"refusing to call the real LLM provider {provider!r} inside the test suite: "
        "use aadap.llm.testing.ScriptedLLMClient (or FunctionLLMClient), or allow it "
        "explicitly with LLMSettings(allow_in_tests=True) or "
        "`with aadap.llm.testing.allow_real_llm():`",
        details={"reason": REAL_LLM_IN_TESTS, "provider": provider},
    )


__all__ = [
    "REAL_LLM_IN_TESTS",
    "allow_real_llm",
    "ensure_real_llm_allowed",
    "running_under_pytest",
]
