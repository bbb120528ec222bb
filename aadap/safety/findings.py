"""What the analysers report: a :class:`Finding` per risky construct, an :class:`Analysis` per call.

Both are frozen value objects. Rule ids are namespaced by where they come from
(``sql.``, ``python.``, ``spark.``, ``delta.``, ``scala.``, ``notebook.``,
``secret.``, ``host.``, ``egress.``, ``input.``, ``language.``) so callers can group them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aadap.core.enums import Language, OperationClass, PlatformKind, RiskLevel


@dataclass(frozen=True, slots=True)
class Finding:
    """One risky (or noteworthy) construct found in the code.

    ``line`` is 1-based in the code that was analysed (SQL embedded in Python or
    Scala keeps the host file's line). ``operation`` is the class of operation the
    construct performs, or ``None`` when it says nothing about the class.
    ``unverified`` marks findings that mean "part of this code could not be
    checked" (unparseable code, dynamic SQL, unknown language): the policy never
    auto-approves an analysis that carries one.
    """

    rule: str
    severity: RiskLevel
    line: int | None
    message: str
    fix_hint: str
    operation: OperationClass | None = None
    language: Language | None = None
    unverified: bool = False

    @property
    def is_secret(self) -> bool:
        return self.rule.startswith("secret.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "line": self.line,
            "message": self.message,
            "fix_hint": self.fix_hint,
            "operation": None if self.operation is None else self.operation.value,
            "language": None if self.language is None else self.language.value,
            "unverified": self.unverified,
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    """The result of :func:`aadap.safety.analyze` for one piece of code."""

    findings: tuple[Finding, ...]
    operation_class: OperationClass
    risk: RiskLevel
    language: Language | None
    platform: PlatformKind
    lines: int
    statements: int = 0
    requested_language: str = field(default="")

    @property
    def unverified(self) -> bool:
        """True when some part of the code could not be checked (never auto-approved)."""
        return any(item.unverified for item in self.findings)

    @property
    def has_secret(self) -> bool:
        return any(item.is_secret for item in self.findings)

    def rules(self) -> set[str]:
        return {item.rule for item in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language.value if self.language else self.requested_language,
            "platform": self.platform.value,
            "operation_class": self.operation_class.value,
            "risk": self.risk.value,
            "unverified": self.unverified,
            "lines": self.lines,
            "statements": self.statements,
            "findings": [item.to_dict() for item in self.findings],
        }
