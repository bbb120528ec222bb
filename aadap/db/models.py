"""The application's tables.

Conventions: UUID primary keys; ``metadata`` JSON (JSONB on PostgreSQL) mapped
to the attribute ``metadata_``; timezone-aware UTC timestamps; CHECK
constraints on every enum-like column, built from :mod:`aadap.core.enums`;
``lazy="raise"`` on relationships so hidden IO under asyncio fails loudly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aadap.core import enums
from aadap.core.exceptions import ErrorSeverity
from aadap.core.ids import new_id
from aadap.core.states import TaskState
from aadap.db.base import Base
from aadap.db.types import ExactDecimal, JSONType, UsdE10, UTCDateTime, utcnow


def _in(column: str, allowed: list[str]) -> str:
    quoted = ", ".join(f"'{value}'" for value in allowed)
    return f"{column} IN ({quoted})"


def _check(column: str, enum_cls: Any, *, name: str | None = None) -> CheckConstraint:
    return CheckConstraint(_in(column, enums.values(enum_cls)), name=name or column)


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(primary_key=True, default=new_id)


def _created() -> Mapped[dt.datetime]:
    return mapped_column(UTCDateTime(), default=utcnow, nullable=False)


def _meta() -> Mapped[dict[str, Any]]:
    return mapped_column("metadata", JSONType, default=dict, nullable=False)


class PlatformConnection(Base):
    __tablename__ = "platform_connections"
    __table_args__ = (
        _check("platform", enums.PlatformKind),
        _check("status", enums.ConnectionStatus),
        CheckConstraint(
            "NOT (secret_ciphertext IS NOT NULL AND secret_ref IS NOT NULL)",
            name="one_secret_source",
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    secret_ref: Mapped[str | None] = mapped_column(String(256))
    secret_hint: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), default=enums.ConnectionStatus.UNTESTED.value, nullable=False
    )
    last_tested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Task(Base):
    __tablename__ = "tasks"
    __table_args__ = (
        _check("environment", enums.Environment),
        _check("platform", enums.PlatformKind),
        _check("current_state", TaskState),
        CheckConstraint("priority BETWEEN 0 AND 10", name="priority_range"),
        CheckConstraint("token_budget >= 0 AND tokens_used >= 0", name="tokens_non_negative"),
        CheckConstraint(
            "cost_budget_usd IS NULL OR cost_budget_usd >= 0", name="budget_non_negative"
        ),
        Index("ix_tasks_current_state", "current_state"),
        Index("ix_tasks_created_at", "created_at"),
        Index("ix_tasks_flow_run_id", "flow_run_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    title: Mapped[str] = mapped_column(String(512), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text, nullable=False)
    environment: Mapped[str] = mapped_column(
        String(16), default=enums.Environment.SANDBOX.value, nullable=False
    )
    platform: Mapped[str] = mapped_column(
        String(32), default=enums.PlatformKind.LOCAL.value, nullable=False
    )
    current_state: Mapped[str] = mapped_column(
        String(32), default=TaskState.SUBMITTED.value, nullable=False
    )
    priority: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    token_budget: Mapped[int] = mapped_column(Integer, default=50_000, nullable=False)
    tokens_used: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    cost_budget_usd: Mapped[Decimal | None] = mapped_column(ExactDecimal())
    cost_usd: Mapped[Decimal] = mapped_column(ExactDecimal(), default=Decimal(0), nullable=False)
    correlation_id: Mapped[str] = mapped_column(String(64), nullable=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_connections.id", ondelete="SET NULL")
    )
    created_by: Mapped[str | None] = mapped_column(String(256))
    metadata_: Mapped[dict[str, Any]] = _meta()
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )

    transitions: Mapped[list[StateTransition]] = relationship(
        back_populates="task",
        lazy="raise",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="StateTransition.sequence_num",
    )
    artifacts: Mapped[list[Artifact]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class StateTransition(Base):
    __tablename__ = "state_transitions"
    __table_args__ = (
        UniqueConstraint("task_id", "sequence_num"),
        _check("from_state", TaskState),
        _check("to_state", TaskState),
        CheckConstraint("sequence_num >= 1", name="sequence_positive"),
        Index("ix_state_transitions_created_at", "created_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    from_state: Mapped[str] = mapped_column(String(32), nullable=False)
    to_state: Mapped[str] = mapped_column(String(32), nullable=False)
    sequence_num: Mapped[int] = mapped_column(Integer, nullable=False)
    triggered_by: Mapped[str] = mapped_column(String(256), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = _meta()
    created_at: Mapped[dt.datetime] = _created()

    task: Mapped[Task] = relationship(back_populates="transitions", lazy="raise")


class Artifact(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        _check("artifact_type", enums.ArtifactType),
        UniqueConstraint("task_id", "artifact_type", "name", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        Index("ix_artifacts_task_id", "task_id"),
        Index("ix_artifacts_content_hash", "content_hash"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    artifact_type: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(512), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    content_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL")
    )
    edit_message: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = _meta()
    created_at: Mapped[dt.datetime] = _created()


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"
    __table_args__ = (
        _check("operation_class", enums.OperationClass),
        _check("environment", enums.Environment),
        _check("risk_level", enums.RiskLevel),
        _check("status", enums.ApprovalStatus),
        Index("ix_approval_requests_task_id", "task_id"),
        Index("ix_approval_requests_status", "status"),
        Index("ix_approval_requests_code_hash", "code_hash"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    operation_class: Mapped[str] = mapped_column(String(32), nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)
    risk_level: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), default=enums.ApprovalStatus.PENDING.value, nullable=False
    )
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    code_artifact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL")
    )
    requested_by: Mapped[str] = mapped_column(String(256), nullable=False)
    requested_at: Mapped[dt.datetime] = _created()
    decided_by: Mapped[str | None] = mapped_column(String(256))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    metadata_: Mapped[dict[str, Any]] = _meta()


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        _check("platform", enums.PlatformKind),
        _check("status", enums.ExecutionStatus),
        Index("ix_executions_task_id", "task_id"),
        Index("ix_executions_status", "status"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    task_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
    )
    connection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("platform_connections.id", ondelete="SET NULL")
    )
    platform: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), default=enums.ExecutionStatus.PENDING.value, nullable=False
    )
    code_artifact_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("artifacts.id", ondelete="SET NULL")
    )
    code_hash: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(256))
    run_url: Mapped[str | None] = mapped_column(String(1024))
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    rows_affected: Mapped[int | None] = mapped_column(BigInteger)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict[str, Any]] = _meta()
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = _created()


class TaskLog(Base):
    """INFRA-01: one structured log row (hook events, mirrored run logs, errors)."""

    __tablename__ = "task_logs"
    __table_args__ = (
        _check("level", enums.LogLevel),
        CheckConstraint(
            _in("severity", [s.name for s in ErrorSeverity]) + " OR severity IS NULL",
            name="severity",
        ),
        Index("ix_task_logs_task_id_created_at", "task_id", "created_at"),
        Index("ix_task_logs_level", "level"),
        Index("ix_task_logs_correlation_id", "correlation_id"),
        Index("ix_task_logs_created_at", "created_at"),
        Index("ix_task_logs_flow_run_id", "flow_run_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    task_run_id: Mapped[str | None] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    event: Mapped[str] = mapped_column(String(128), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(String(128), nullable=False)
    error_code: Mapped[str | None] = mapped_column(String(64))
    severity: Mapped[str | None] = mapped_column(String(16))
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    attempt: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)
    created_at: Mapped[dt.datetime] = _created()


class CostRecord(Base):
    """INFRA-02: one row per LLM call (or compute run); ``call_id`` makes writes idempotent.

    ``cost_usd`` is stored as ``cost_usd_e10``, an integer count of 10^-10 USD
    (:class:`~aadap.db.types.UsdE10`) so that both dialects ``SUM`` it exactly; spend
    over a period is read from ``ix_cost_records_created_at_sums`` alone (it holds every
    summed column).
    """

    __tablename__ = "cost_records"
    __table_args__ = (
        _check("kind", enums.CostKind),
        _check("status", enums.CostStatus),
        CheckConstraint("tokens_in >= 0 AND tokens_out >= 0", name="tokens_non_negative"),
        CheckConstraint("cost_usd_e10 IS NULL OR cost_usd_e10 >= 0", name="cost_non_negative"),
        Index("ix_cost_records_task_id", "task_id"),
        Index(
            "ix_cost_records_created_at_sums",
            "created_at",
            "cost_usd_e10",
            "tokens_in",
            "tokens_out",
        ),
        # the same with the keys spend is grouped by: the cost report's agent, model and
        # task reads over its window are one index-only range each (the narrow index above
        # stays the one for periods: read through this wider one they took 1.8x as long)
        Index(
            "ix_cost_records_created_at_groups",
            "created_at",
            "agent_type",
            "provider",
            "model",
            "task_id",
            "cost_usd_e10",
            "tokens_in",
            "tokens_out",
        ),
        Index("ix_cost_records_agent_type_created_at", "agent_type", "created_at"),
        Index("ix_cost_records_model", "model"),
        Index("ix_cost_records_status", "status"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    task_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    task_run_id: Mapped[str | None] = mapped_column(String(64))
    agent_type: Mapped[str] = mapped_column(String(32), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), default=enums.CostKind.LLM.value, nullable=False)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    tokens_in: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    cost_usd: Mapped[Decimal | None] = mapped_column("cost_usd_e10", UsdE10())
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    call_id: Mapped[str] = mapped_column(String(128), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(
        String(16), default=enums.CostStatus.PENDING.value, nullable=False
    )
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict, nullable=False)
    created_at: Mapped[dt.datetime] = _created()


__all__ = [
    "ApprovalRequest",
    "Artifact",
    "Base",
    "CostRecord",
    "Execution",
    "PlatformConnection",
    "StateTransition",
    "Task",
    "TaskLog",
]
