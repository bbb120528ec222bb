from __future__ import annotations

import pickle
import re

import cloudpickle
import pytest

from aadap.core import exceptions as exc_mod
from aadap.core.exceptions import (
    AADAPError,
    CostBudgetExceededError,
    ErrorSeverity,
    IntegrationError,
    LLMAuthenticationError,
    LLMRateLimitError,
    TokenBudgetExceededError,
    all_error_classes,
    is_retryable,
)

ROW = re.compile(r"^\s*(\w+Error)\s+([A-Z_]+)\s+(LOW|MEDIUM|HIGH|CRITICAL)\s+(yes|no)\s*$")


def documented() -> dict[str, tuple[str, str, bool]]:
    rows = {}
    for line in (exc_mod.__doc__ or "").splitlines():
        match = ROW.match(line)
        if match:
            name, code, severity, retry = match.groups()
            rows[name] = (code, severity, retry == "yes")
    return rows


def test_every_class_is_documented_with_its_real_code_severity_and_retryable() -> None:
    table = documented()
    classes = {cls.__name__: cls for cls in all_error_classes()}
    assert set(table) == set(classes), set(table) ^ set(classes)
    for name, (code, severity, retryable) in table.items():
        cls = classes[name]
        assert (cls.error_code, cls.severity.name, cls.retryable) == (code, severity, retryable), (
            name
        )


def test_error_codes_are_unique() -> None:
    codes = [cls.error_code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))


def test_required_concrete_errors_exist() -> None:
    names = {cls.__name__ for cls in all_error_classes()}
    required = {
        "OrchestratorError", "AgentLifecycleError", "IntegrationError", "ExecutionError",
        "ConfigurationError", "InvalidStateTransitionError", "AgentOutputInvalidError",
        "LLMRateLimitError", "LLMTimeoutError", "LLMServerError", "LLMAuthenticationError",
        "PlatformAuthenticationError", "PlatformConnectionError", "DeploymentFailedError",
        "ValidationFailedError", "SafetyViolationError", "ApprovalRejectedError",
        "ApprovalExpiredError", "TokenBudgetExceededError", "CostBudgetExceededError",
        "MissingConfigurationError", "InvalidConfigurationError",
    }  # fmt: skip
    assert required <= names


def test_severity_is_ordered() -> None:
    assert ErrorSeverity.LOW < ErrorSeverity.MEDIUM < ErrorSeverity.HIGH < ErrorSeverity.CRITICAL
    assert max(ErrorSeverity) is ErrorSeverity.CRITICAL
    assert sorted([ErrorSeverity.HIGH, ErrorSeverity.LOW]) == [
        ErrorSeverity.LOW,
        ErrorSeverity.HIGH,
    ]


def test_budget_errors_are_critical_and_never_retried() -> None:
    for cls in (TokenBudgetExceededError, CostBudgetExceededError):
        assert cls.severity is ErrorSeverity.CRITICAL
        assert not is_retryable(cls("over budget"))


@pytest.mark.parametrize("cls", all_error_classes(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_every_exception_survives_a_pickle_round_trip(cls: type[AADAPError], dumps: object) -> None:
    original = cls(
        "something broke",
        task_id="t-1",
        agent_id="developer",
        correlation_id="c-1",
        details={"status": 429, "nested": {"a": [1, 2]}},
    )
    original.__cause__ = None
    restored = pickle.loads(dumps(original))  # type: ignore[operator]
    assert type(restored) is cls
    assert restored.to_dict() == original.to_dict()
    assert str(restored) == str(original)
    assert restored.args == original.args


def test_message_only_construction_pickles() -> None:
    restored = pickle.loads(pickle.dumps(LLMRateLimitError("slow down")))
    assert restored.task_id is None
    assert restored.details == {}


def test_to_dict_is_what_we_persist() -> None:
    error = LLMAuthenticationError("bad key", task_id="abc", details={"status": 401})
    assert error.to_dict() == {
        "type": "LLMAuthenticationError",
        "error_code": "LLM_AUTH_FAILED",
        "severity": "HIGH",
        "retryable": False,
        "message": "bad key",
        "task_id": "abc",
        "agent_id": None,
        "correlation_id": None,
        "details": {"status": 401},
    }
    assert str(error) == "[LLM_AUTH_FAILED] bad key"


def test_is_retryable_follows_the_taxonomy() -> None:
    assert is_retryable(LLMRateLimitError("429"))
    assert is_retryable(IntegrationError("flaky"))
    assert not is_retryable(LLMAuthenticationError("401"))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TimeoutError("slow"), True),
        (ConnectionResetError("reset"), True),
        (ValueError("bug"), False),
        (KeyError("bug"), False),
        (RuntimeError("unknown"), False),
    ],
)
def test_is_retryable_for_foreign_exceptions(error: BaseException, expected: bool) -> None:
    assert is_retryable(error) is expected
