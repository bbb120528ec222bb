"""The autonomy policy: matrix lookup, fail-closed defaults, escalations that never downgrade."""

from __future__ import annotations

import pytest

from aadap.core.config import SafetySettings
from aadap.core.enums import Environment, OperationClass, RiskLevel
from aadap.core.exceptions import InvalidRequestError
from aadap.safety import analyze, decide


@pytest.fixture
def settings() -> SafetySettings:
    return SafetySettings(_env_file=None)


@pytest.mark.parametrize(
    ("environment", "operation", "expected"),
    [
        ("SANDBOX", "read_only", "auto"),
        ("SANDBOX", "write", "auto"),
        ("SANDBOX", "destructive", "approval"),
        ("SANDBOX", "schema_change", "approval"),
        ("SANDBOX", "permission_change", "approval"),
        ("PRODUCTION", "read_only", "auto"),
        ("PRODUCTION", "write", "approval"),
        ("PRODUCTION", "destructive", "approval"),
        ("PRODUCTION", "schema_change", "approval"),
        ("PRODUCTION", "permission_change", "approval"),
    ],
)
def test_default_matrix(
    environment: str, operation: str, expected: str, settings: SafetySettings
) -> None:
    decision = decide((operation, RiskLevel.NONE), environment, settings)
    assert decision.decision == expected
    assert f"{environment}/{operation}" in decision.reason


@pytest.mark.parametrize(
    ("subject", "environment"),
    [
        (("read_only", "NONE"), "STAGING"),
        (("something_else", "NONE"), "SANDBOX"),
        ((None, "NONE"), "SANDBOX"),
    ],
)
def test_unknown_values_fail_closed(
    subject: tuple[str | None, str], environment: str, settings: SafetySettings
) -> None:
    decision = decide(subject, environment, settings)
    assert decision.decision == "approval"
    assert "fail closed" in decision.reason


def test_missing_matrix_entry_fails_closed() -> None:
    settings = SafetySettings(_env_file=None, policy={"SANDBOX": {"read_only": "auto"}})
    assert decide(("write", "NONE"), "SANDBOX", settings).decision == "approval"
    assert decide(("read_only", "NONE"), "PRODUCTION", settings).decision == "approval"


def test_critical_in_production_is_forbidden(settings: SafetySettings) -> None:
    decision = decide(
        (OperationClass.DESTRUCTIVE, RiskLevel.CRITICAL), Environment.PRODUCTION, settings
    )
    assert decision.decision == "forbidden"
    relaxed = SafetySettings(_env_file=None, forbid_critical_in_production=False)
    assert decide(("destructive", "CRITICAL"), "PRODUCTION", relaxed).decision == "approval"


@pytest.mark.parametrize("risk", [RiskLevel.HIGH, RiskLevel.CRITICAL])
@pytest.mark.parametrize("environment", ["SANDBOX", "PRODUCTION"])
def test_high_findings_are_never_auto(
    risk: RiskLevel, environment: str, settings: SafetySettings
) -> None:
    assert decide(("read_only", risk), environment, settings).decision != "auto"


def test_secret_and_unverified_findings_need_approval(settings: SafetySettings) -> None:
    secret = analyze('password = "hunter22"', language="python")
    assert secret.operation_class is OperationClass.READ_ONLY
    assert decide(secret, "SANDBOX", settings).decision == "approval"
    unverified = analyze("SELEC * FORM t", language="sql")
    assert unverified.risk is RiskLevel.MEDIUM
    decision = decide(unverified, "SANDBOX", settings)
    assert decision.decision == "approval"
    assert "could not be checked" in decision.reason


def test_matrix_forbidden_is_never_downgraded() -> None:
    settings = SafetySettings(
        _env_file=None,
        policy={
            "SANDBOX": {
                "read_only": "forbidden",
                "write": "auto",
                "destructive": "approval",
                "schema_change": "approval",
                "permission_change": "approval",
            }
        },
    )
    assert decide(("read_only", "NONE"), "SANDBOX", settings).decision == "forbidden"
    assert decide(analyze("SELECT 1", language="sql"), "sandbox", settings).decision == "forbidden"


def test_environment_and_class_are_case_insensitive(settings: SafetySettings) -> None:
    assert decide(("WRITE", "low"), "sandbox", settings).decision == "auto"


def test_invalid_risk_is_a_bad_request(settings: SafetySettings) -> None:
    with pytest.raises(InvalidRequestError) as info:
        decide(("read_only", "EXTREME"), "SANDBOX", settings)
    assert info.value.details == {"field": "risk"}


def test_analysis_decisions_end_to_end(settings: SafetySettings) -> None:
    drop = analyze("DROP TABLE t", language="sql")
    assert decide(drop, "SANDBOX", settings).decision == "approval"
    assert decide(drop, "PRODUCTION", settings).decision == "forbidden"
    write = analyze("INSERT INTO t SELECT 1", language="sql")
    assert decide(write, "SANDBOX", settings).decision == "auto"
    assert decide(write, "PRODUCTION", settings).decision == "approval"
