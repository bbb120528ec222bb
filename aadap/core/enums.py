"""Enumerations shared by every layer; the database CHECK constraints are built from them."""

from __future__ import annotations

import enum


class Environment(enum.StrEnum):
    SANDBOX = "SANDBOX"
    PRODUCTION = "PRODUCTION"


class PlatformKind(enum.StrEnum):
    LOCAL = "local"
    DATABRICKS = "databricks"
    FABRIC = "fabric"


class Language(enum.StrEnum):
    SQL = "sql"
    PYTHON = "python"
    PYSPARK = "pyspark"
    SCALA = "scala"


class AgentType(enum.StrEnum):
    PARSER = "parser"
    PLANNER = "planner"
    ROUTER = "router"
    DEVELOPER = "developer"
    REVIEWER = "reviewer"
    OPTIMISER = "optimiser"


class LogLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class CostKind(enum.StrEnum):
    LLM = "llm"
    COMPUTE = "compute"


class CostStatus(enum.StrEnum):
    PENDING = "pending"  # durable the moment the call returned; hook not yet run
    SUCCEEDED = "succeeded"  # finalised by a hook: the attempt that made the call completed
    FAILED = "failed"  # finalised by a hook: the attempt failed after the call
    ORPHANED = "orphaned"  # finalised by reconcile: the process died


class ApprovalStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    AUTO_APPROVED = "AUTO_APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    FORBIDDEN = "FORBIDDEN"
    CANCELLED = "CANCELLED"  # its run ended (cancelled, failed, crashed) with no decision


class ExecutionStatus(enum.StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class RiskLevel(enum.StrEnum):
    NONE = "NONE"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return list(RiskLevel).index(self)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, RiskLevel):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, RiskLevel):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, RiskLevel):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, RiskLevel):
            return NotImplemented
        return self.rank >= other.rank


class OperationClass(enum.StrEnum):
    READ_ONLY = "read_only"
    WRITE = "write"
    DESTRUCTIVE = "destructive"
    SCHEMA_CHANGE = "schema_change"
    PERMISSION_CHANGE = "permission_change"


class ArtifactType(enum.StrEnum):
    REQUIREMENT = "requirement"
    PLAN = "plan"
    GENERATED_CODE = "generated_code"
    REVIEW_REPORT = "review_report"
    OPTIMIZED_CODE = "optimized_code"
    DECISION_EXPLANATION = "decision_explanation"
    EXECUTION_RESULT = "execution_result"


class ConnectionStatus(enum.StrEnum):
    UNTESTED = "UNTESTED"
    OK = "OK"
    FAILED = "FAILED"


def values(enum_cls: type[enum.StrEnum]) -> list[str]:
    return [member.value for member in enum_cls]
