"""The autonomy policy: environment x operation class, escalated by what the analysis found.

``decide`` looks the pair up in ``SafetySettings.policy`` and then only ever makes the
answer stricter (auto < approval < forbidden):

* an unknown environment, an unknown operation class or a missing matrix entry →
  ``approval`` (fail closed; the earlier implementation failed open here);
* a CRITICAL finding in PRODUCTION → ``forbidden`` when ``forbid_critical_in_production``;
* any HIGH or CRITICAL finding, in any environment → at least ``approval``;
* any ``secret.*`` finding → at least ``approval``;
* any unverified finding (unparseable code, dynamic SQL, unknown language) → at least
  ``approval``.

A matrix ``forbidden`` is never downgraded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aadap.core.config import SafetySettings
from aadap.core.enums import Environment, OperationClass, RiskLevel
from aadap.core.exceptions import InvalidRequestError
from aadap.safety.findings import Analysis

Decision = Literal["auto", "approval", "forbidden"]
_RANK: dict[Decision, int] = {"auto": 0, "approval": 1, "forbidden": 2}


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    decision: Decision
    reason: str

    @property
    def needs_approval(self) -> bool:
        return self.decision != "auto"


def _environment(value: Environment | str) -> Environment | None:
    try:
        return Environment(str(value).strip().upper())
    except ValueError:
        return None


def _operation(value: OperationClass | str | None) -> OperationClass | None:
    if value is None:
        return None
    try:
        return OperationClass(str(value).strip().lower())
    except ValueError:
        return None


def _risk(value: RiskLevel | str) -> RiskLevel:
    try:
        return RiskLevel(str(value).strip().upper())
    except ValueError as exc:
        allowed = ", ".join(level.value for level in RiskLevel)
        raise InvalidRequestError(
            f"risk={value!r} is not valid; allowed: {allowed}", details={"field": "risk"}
        ) from exc


def _matrix(settings: SafetySettings, env: Environment, op: OperationClass) -> Decision | None:
    for env_name, row in settings.policy.items():
        if env_name.strip().upper() == env.value:
            for op_name, decision in row.items():
                if op_name.strip().lower() == op.value:
                    return decision
    return None


def decide(
    subject: Analysis | tuple[OperationClass | str | None, RiskLevel | str],
    environment: Environment | str,
    settings: SafetySettings,
) -> PolicyDecision:
    """The decision for an :class:`Analysis` (or a bare ``(operation_class, risk)``)."""
    if isinstance(subject, Analysis):
        op_value: OperationClass | str | None = subject.operation_class
        risk = subject.risk
        secret, unverified = subject.has_secret, subject.unverified
    else:
        op_value, risk_value = subject
        risk = _risk(risk_value)
        secret = unverified = False
    env, op = _environment(environment), _operation(op_value)
    steps: list[tuple[Decision, str]] = []
    if env is None:
        steps.append(("approval", f"unknown environment {environment!r}: fail closed"))
    elif op is None:
        steps.append(("approval", f"unknown operation class {op_value!r}: fail closed"))
    else:
        entry = _matrix(settings, env, op)
        if entry is None:
            steps.append(("approval", f"no policy entry for {env.value}/{op.value}: fail closed"))
        else:
            steps.append((entry, f"policy {env.value}/{op.value} is {entry}"))
    if (
        env is Environment.PRODUCTION
        and risk is RiskLevel.CRITICAL
        and settings.forbid_critical_in_production
    ):
        steps.append(("forbidden", "CRITICAL finding in PRODUCTION is forbidden"))
    if risk >= RiskLevel.HIGH:
        steps.append(("approval", f"{risk.value} finding needs a human decision"))
    if secret:
        steps.append(("approval", "hard-coded secret found"))
    if unverified:
        steps.append(("approval", "part of the code could not be checked"))
    final = max((decision for decision, _ in steps), key=_RANK.__getitem__)
    reasons = [steps[0][1]] + [reason for decision, reason in steps[1:] if decision == final]
    return PolicyDecision(final, "; ".join(dict.fromkeys(reasons)))
