"""Operation class and overall risk, derived from findings (never from the request text)."""

from __future__ import annotations

from collections.abc import Iterable

from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel
from aadap.safety.findings import Analysis, Finding

# RiskLevel.rank rebuilds the member list on every call; hot paths use this map instead.
RISK_RANK: dict[RiskLevel, int] = {level: index for index, level in enumerate(RiskLevel)}

# Most severe first: when several classes are present the first one listed wins.
OPERATION_PRECEDENCE: tuple[OperationClass, ...] = (
    OperationClass.PERMISSION_CHANGE,
    OperationClass.DESTRUCTIVE,
    OperationClass.SCHEMA_CHANGE,
    OperationClass.WRITE,
    OperationClass.READ_ONLY,
)


def max_risk(findings: Iterable[Finding]) -> RiskLevel:
    """The highest severity among ``findings``; ``NONE`` when there are none."""
    return max(
        (item.severity for item in findings), key=RISK_RANK.__getitem__, default=RiskLevel.NONE
    )


def operation_class(findings: Iterable[Finding]) -> OperationClass:
    """The most severe class named by ``findings``; ``read_only`` when none names one.

    permission_change > destructive > schema_change > write > read_only.
    """
    present = {item.operation for item in findings if item.operation is not None}
    for candidate in OPERATION_PRECEDENCE:
        if candidate in present:
            return candidate
    return OperationClass.READ_ONLY


def build_analysis(
    findings: Iterable[Finding],
    *,
    language: Language | None,
    platform: PlatformKind,
    lines: int,
    statements: int,
    requested_language: str,
) -> Analysis:
    """Deduplicate and order ``findings`` (by line, most severe first) and derive class and risk."""
    unique: dict[tuple[str, int | None, str], Finding] = {}
    for item in findings:
        unique.setdefault((item.rule, item.line, item.message), item)
    ordered = tuple(
        sorted(
            unique.values(),
            key=lambda f: (f.line if f.line is not None else 0, -RISK_RANK[f.severity], f.rule),
        )
    )
    return Analysis(
        findings=ordered,
        operation_class=operation_class(ordered),
        risk=max_risk(ordered),
        language=language,
        platform=platform,
        lines=lines,
        statements=statements,
        requested_language=requested_language,
    )
