"""Static safety analysis of generated code: findings, operation class, risk, policy decision.

Pure functions: no database, no Prefect, no network. ``analyze`` reads code (SQL via
sqlglot, Python/PySpark via ``ast`` after folding constants and following aliases,
Scala via conservative patterns, secrets and production hosts in every language,
network egress, secret-bearing files and engine side doors) and ``decide`` applies the
autonomy policy.

Layout: one subpackage per language (:mod:`.python`, :mod:`.sql`, :mod:`.scala`); the
checks every language shares sit beside :mod:`.analyze` (:mod:`.secret_scan`,
:mod:`.production_hosts`, :mod:`.exfiltration`), as do the operation class and risk
(:mod:`.classify`) and the policy (:mod:`.policy`).
"""

from __future__ import annotations

from aadap.safety.analyze import (
    DEFAULT_PRODUCTION_HOST_PATTERNS,
    MAX_CODE_CHARS,
    analyze,
    parse_language,
    parse_platform,
)
from aadap.safety.classify import OPERATION_PRECEDENCE, max_risk, operation_class
from aadap.safety.findings import Analysis, Finding
from aadap.safety.policy import Decision, PolicyDecision, decide

__all__ = [
    "DEFAULT_PRODUCTION_HOST_PATTERNS",
    "MAX_CODE_CHARS",
    "OPERATION_PRECEDENCE",
    "Analysis",
    "Decision",
    "Finding",
    "PolicyDecision",
    "analyze",
    "decide",
    "max_risk",
    "operation_class",
    "parse_language",
    "parse_platform",
]
