"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28

The whole schema of the foundation issue: tasks and their trail (state_transitions,
artifacts, approval_requests, executions), task_logs (INFRA-01), cost_records
(INFRA-02) and platform_connections (INFRA-03).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import aadap.db.types
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "platform_connections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("secret_ref", sa.String(length=256), nullable=True),
        sa.Column("secret_hint", sa.String(length=16), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_tested_at", aadap.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_latency_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", aadap.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "platform IN ('local', 'databricks', 'fabric')",
            name=op.f("ck_platform_connections_platform"),
        ),
        sa.CheckConstraint(
            "status IN ('UNTESTED', 'OK', 'FAILED')", name=op.f("ck_platform_connections_status")
        ),
        sa.CheckConstraint(
            "NOT (secret_ciphertext IS NOT NULL AND secret_ref IS NOT NULL)",
            name=op.f("ck_platform_connections_one_secret_source"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_platform_connections_name")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("current_state", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("token_budget", sa.Integer(), nullable=False),
        sa.Column("tokens_used", sa.Integer(), nullable=False),
        sa.Column(
            "cost_budget_usd", aadap.db.types.ExactDecimal(precision=20, scale=10), nullable=True
        ),
        sa.Column("cost_usd", aadap.db.types.ExactDecimal(precision=20, scale=10), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=256), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "current_state IN ('SUBMITTED', 'PARSING', 'PARSED', 'PARSE_FAILED', 'PLANNING', 'PLANNED', 'AGENT_ASSIGNMENT', 'AGENT_ASSIGNED', 'IN_DEVELOPMENT', 'CODE_GENERATED', 'DEV_FAILED', 'IN_VALIDATION', 'VALIDATION_PASSED', 'VALIDATION_FAILED', 'OPTIMIZATION_PENDING', 'IN_OPTIMIZATION', 'OPTIMIZED', 'APPROVAL_PENDING', 'IN_REVIEW', 'APPROVED', 'REJECTED', 'DEPLOYING', 'DEPLOYED', 'COMPLETED', 'CANCELLED', 'FAILED')",
            name=op.f("ck_tasks_current_state"),
        ),
        sa.CheckConstraint(
            "environment IN ('SANDBOX', 'PRODUCTION')", name=op.f("ck_tasks_environment")
        ),
        sa.CheckConstraint(
            "platform IN ('local', 'databricks', 'fabric')", name=op.f("ck_tasks_platform")
        ),
        sa.CheckConstraint(
            "cost_budget_usd IS NULL OR cost_budget_usd >= 0",
            name=op.f("ck_tasks_budget_non_negative"),
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 10", name=op.f("ck_tasks_priority_range")),
        sa.CheckConstraint(
            "token_budget >= 0 AND tokens_used >= 0", name=op.f("ck_tasks_tokens_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("fk_tasks_connection_id_platform_connections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_tasks_idempotency_key")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_tasks_current_state", ["current_state"], unique=False)
        batch_op.create_index("ix_tasks_flow_run_id", ["flow_run_id"], unique=False)

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("artifact_type", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("edit_message", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "artifact_type IN ('requirement', 'plan', 'generated_code', 'review_report', 'optimized_code', 'decision_explanation', 'execution_result')",
            name=op.f("ck_artifacts_artifact_type"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_artifacts_version_positive")),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["artifacts.id"],
            name=op.f("fk_artifacts_parent_id_artifacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_artifacts_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
        sa.UniqueConstraint(
            "task_id",
            "artifact_type",
            "name",
            "version",
            name=op.f("uq_artifacts_task_id_artifact_type_name_version"),
        ),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index("ix_artifacts_content_hash", ["content_hash"], unique=False)
        batch_op.create_index("ix_artifacts_task_id", ["task_id"], unique=False)

    op.create_table(
        "cost_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("agent_type", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("cost_usd", aadap.db.types.ExactDecimal(precision=20, scale=10), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('llm', 'compute')", name=op.f("ck_cost_records_kind")),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed', 'orphaned')",
            name=op.f("ck_cost_records_status"),
        ),
        sa.CheckConstraint(
            "cost_usd IS NULL OR cost_usd >= 0", name=op.f("ck_cost_records_cost_non_negative")
        ),
        sa.CheckConstraint(
            "tokens_in >= 0 AND tokens_out >= 0", name=op.f("ck_cost_records_tokens_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_cost_records_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_records")),
        sa.UniqueConstraint("call_id", name=op.f("uq_cost_records_call_id")),
    )
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cost_records_agent_type_created_at", ["agent_type", "created_at"], unique=False
        )
        batch_op.create_index("ix_cost_records_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_cost_records_model", ["model"], unique=False)
        batch_op.create_index("ix_cost_records_status", ["status"], unique=False)
        batch_op.create_index("ix_cost_records_task_id", ["task_id"], unique=False)

    op.create_table(
        "state_transitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("from_state", sa.String(length=32), nullable=False),
        sa.Column("to_state", sa.String(length=32), nullable=False),
        sa.Column("sequence_num", sa.Integer(), nullable=False),
        sa.Column("triggered_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "from_state IN ('SUBMITTED', 'PARSING', 'PARSED', 'PARSE_FAILED', 'PLANNING', 'PLANNED', 'AGENT_ASSIGNMENT', 'AGENT_ASSIGNED', 'IN_DEVELOPMENT', 'CODE_GENERATED', 'DEV_FAILED', 'IN_VALIDATION', 'VALIDATION_PASSED', 'VALIDATION_FAILED', 'OPTIMIZATION_PENDING', 'IN_OPTIMIZATION', 'OPTIMIZED', 'APPROVAL_PENDING', 'IN_REVIEW', 'APPROVED', 'REJECTED', 'DEPLOYING', 'DEPLOYED', 'COMPLETED', 'CANCELLED', 'FAILED')",
            name=op.f("ck_state_transitions_from_state"),
        ),
        sa.CheckConstraint(
            "to_state IN ('SUBMITTED', 'PARSING', 'PARSED', 'PARSE_FAILED', 'PLANNING', 'PLANNED', 'AGENT_ASSIGNMENT', 'AGENT_ASSIGNED', 'IN_DEVELOPMENT', 'CODE_GENERATED', 'DEV_FAILED', 'IN_VALIDATION', 'VALIDATION_PASSED', 'VALIDATION_FAILED', 'OPTIMIZATION_PENDING', 'IN_OPTIMIZATION', 'OPTIMIZED', 'APPROVAL_PENDING', 'IN_REVIEW', 'APPROVED', 'REJECTED', 'DEPLOYING', 'DEPLOYED', 'COMPLETED', 'CANCELLED', 'FAILED')",
            name=op.f("ck_state_transitions_to_state"),
        ),
        sa.CheckConstraint(
            "sequence_num >= 1", name=op.f("ck_state_transitions_sequence_positive")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_state_transitions_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_transitions")),
        sa.UniqueConstraint(
            "task_id", "sequence_num", name=op.f("uq_state_transitions_task_id_sequence_num")
        ),
    )
    with op.batch_alter_table("state_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_state_transitions_created_at", ["created_at"], unique=False)

    op.create_table(
        "task_logs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("task_run_id", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=128), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "level IN ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')",
            name=op.f("ck_task_logs_level"),
        ),
        sa.CheckConstraint(
            "severity IN ('LOW', 'MEDIUM', 'HIGH', 'CRITICAL') OR severity IS NULL",
            name=op.f("ck_task_logs_severity"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_logs_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_logs")),
    )
    with op.batch_alter_table("task_logs", schema=None) as batch_op:
        batch_op.create_index("ix_task_logs_correlation_id", ["correlation_id"], unique=False)
        batch_op.create_index("ix_task_logs_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_task_logs_flow_run_id", ["flow_run_id"], unique=False)
        batch_op.create_index("ix_task_logs_level", ["level"], unique=False)
        batch_op.create_index(
            "ix_task_logs_task_id_created_at", ["task_id", "created_at"], unique=False
        )

    op.create_table(
        "approval_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("operation_class", sa.String(length=32), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("risk_level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("code_artifact_id", sa.Uuid(), nullable=True),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("requested_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("decided_at", aadap.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("expires_at", aadap.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "environment IN ('SANDBOX', 'PRODUCTION')",
            name=op.f("ck_approval_requests_environment"),
        ),
        sa.CheckConstraint(
            "operation_class IN ('read_only', 'write', 'destructive', 'schema_change', 'permission_change')",
            name=op.f("ck_approval_requests_operation_class"),
        ),
        sa.CheckConstraint(
            "risk_level IN ('NONE', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL')",
            name=op.f("ck_approval_requests_risk_level"),
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'AUTO_APPROVED', 'REJECTED', 'EXPIRED', 'FORBIDDEN')",
            name=op.f("ck_approval_requests_status"),
        ),
        sa.ForeignKeyConstraint(
            ["code_artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_approval_requests_code_artifact_id_artifacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_approval_requests_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index("ix_approval_requests_code_hash", ["code_hash"], unique=False)
        batch_op.create_index("ix_approval_requests_status", ["status"], unique=False)
        batch_op.create_index("ix_approval_requests_task_id", ["task_id"], unique=False)

    op.create_table(
        "executions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("connection_id", sa.Uuid(), nullable=True),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code_artifact_id", sa.Uuid(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("run_id", sa.String(length=256), nullable=True),
        sa.Column("run_url", sa.String(length=1024), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("rows_affected", sa.BigInteger(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("started_at", aadap.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", aadap.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", aadap.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "platform IN ('local', 'databricks', 'fabric')", name=op.f("ck_executions_platform")
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED')",
            name=op.f("ck_executions_status"),
        ),
        sa.ForeignKeyConstraint(
            ["code_artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_executions_code_artifact_id_artifacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["platform_connections.id"],
            name=op.f("fk_executions_connection_id_platform_connections"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_executions_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_executions")),
    )
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.create_index("ix_executions_status", ["status"], unique=False)
        batch_op.create_index("ix_executions_task_id", ["task_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("executions", schema=None) as batch_op:
        batch_op.drop_index("ix_executions_task_id")
        batch_op.drop_index("ix_executions_status")

    op.drop_table("executions")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_requests_task_id")
        batch_op.drop_index("ix_approval_requests_status")
        batch_op.drop_index("ix_approval_requests_code_hash")

    op.drop_table("approval_requests")
    with op.batch_alter_table("task_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_task_logs_task_id_created_at")
        batch_op.drop_index("ix_task_logs_level")
        batch_op.drop_index("ix_task_logs_flow_run_id")
        batch_op.drop_index("ix_task_logs_created_at")
        batch_op.drop_index("ix_task_logs_correlation_id")

    op.drop_table("task_logs")
    with op.batch_alter_table("state_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_state_transitions_created_at")

    op.drop_table("state_transitions")
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        batch_op.drop_index("ix_cost_records_task_id")
        batch_op.drop_index("ix_cost_records_status")
        batch_op.drop_index("ix_cost_records_model")
        batch_op.drop_index("ix_cost_records_created_at")
        batch_op.drop_index("ix_cost_records_agent_type_created_at")

    op.drop_table("cost_records")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index("ix_artifacts_task_id")
        batch_op.drop_index("ix_artifacts_content_hash")

    op.drop_table("artifacts")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_flow_run_id")
        batch_op.drop_index("ix_tasks_current_state")
        batch_op.drop_index("ix_tasks_created_at")

    op.drop_table("tasks")
    op.drop_table("platform_connections")
