"""cost_records.cost_usd as integer 10^-10 USD; the spend-by-period index

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

``cost_records.cost_usd`` (``NUMERIC(20, 10)`` on PostgreSQL, decimal text on SQLite)
becomes ``cost_usd_e10``, a ``BIGINT`` count of 10^-10 USD, so that the database sums
spend exactly on both dialects (SQLite's ``SUM`` over text is floating point). Existing
rows are converted exactly, both ways. ``ix_cost_records_created_at`` becomes
``ix_cost_records_created_at_cost`` (``created_at, cost_usd_e10``): the budget check
reads a period's spend from the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import aadap.db.types
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_E10 = "10000000000"

# The one dialect difference, in the data conversion: PostgreSQL has exact NUMERIC
# arithmetic; SQLite's arithmetic on its decimal text would go through floating point,
# so there the text is split at the point and its digits read as integers (half-up at
# the tenth place, as NUMERIC(20, 10) rounded on PostgreSQL).
_TO_E10 = {
    "postgresql": f"CAST(ROUND(cost_usd * {_E10}) AS BIGINT)",
    "sqlite": (
        "CASE WHEN instr(cost_usd, '.') = 0 "
        f"THEN CAST(cost_usd AS INTEGER) * {_E10} "
        f"ELSE CAST(substr(cost_usd, 1, instr(cost_usd, '.') - 1) AS INTEGER) * {_E10} "
        "+ (CAST(substr(substr(cost_usd, instr(cost_usd, '.') + 1) || '00000000000', 1, 11) "
        "AS INTEGER) + 5) / 10 END"
    ),
}
_FROM_E10 = {
    "postgresql": f"CAST(cost_usd_e10 AS NUMERIC) / {_E10}",
    "sqlite": (
        f"CAST(cost_usd_e10 / {_E10} AS TEXT) || '.' "
        f"|| substr('0000000000' || CAST(cost_usd_e10 % {_E10} AS TEXT), -10)"
    ),
}


def _convert(column: str, expression: dict[str, str]) -> None:
    sql = expression[op.get_bind().dialect.name]
    source = "cost_usd" if column == "cost_usd_e10" else "cost_usd_e10"
    op.execute(f"UPDATE cost_records SET {column} = {sql} WHERE {source} IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost_usd_e10", aadap.db.types.UsdE10(), nullable=True))
    _convert("cost_usd_e10", _TO_E10)
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_cost_records_cost_non_negative"), type_="check")
        batch_op.drop_index("ix_cost_records_created_at")
        batch_op.drop_column("cost_usd")
        batch_op.create_check_constraint(
            op.f("ck_cost_records_cost_non_negative"), "cost_usd_e10 IS NULL OR cost_usd_e10 >= 0"
        )
        batch_op.create_index(
            "ix_cost_records_created_at_cost", ["created_at", "cost_usd_e10"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "cost_usd", aadap.db.types.ExactDecimal(precision=20, scale=10), nullable=True
            )
        )
    _convert("cost_usd", _FROM_E10)
    with op.batch_alter_table("cost_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_cost_records_cost_non_negative"), type_="check")
        batch_op.drop_index("ix_cost_records_created_at_cost")
        batch_op.drop_column("cost_usd_e10")
        batch_op.create_check_constraint(
            op.f("ck_cost_records_cost_non_negative"), "cost_usd IS NULL OR cost_usd >= 0"
        )
        batch_op.create_index("ix_cost_records_created_at", ["created_at"], unique=False)
