"""approval requests can be CANCELLED

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07

A request whose run ended without a decision (cancelled, failed, crashed, reconciled)
is closed as CANCELLED with the reason, so no request stays PENDING for a finished
task. The status CHECK constraint gains the value; downgrading turns CANCELLED rows
into EXPIRED (the nearest status the old schema knows) before it narrows it again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ck_approval_requests_status"
_OLD = "'PENDING', 'APPROVED', 'AUTO_APPROVED', 'REJECTED', 'EXPIRED', 'FORBIDDEN'"
_NEW = _OLD + ", 'CANCELLED'"


def _status_check(values: str) -> None:
    with op.batch_alter_table("approval_requests") as batch:
        batch.drop_constraint(op.f(_NAME), type_="check")
        batch.create_check_constraint(op.f(_NAME), sa.text(f"status IN ({values})"))


def upgrade() -> None:
    _status_check(_NEW)


def downgrade() -> None:
    op.execute("UPDATE approval_requests SET status = 'EXPIRED' WHERE status = 'CANCELLED'")
    _status_check(_OLD)
