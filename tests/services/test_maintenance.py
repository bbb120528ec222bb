"""Maintenance: expiring approvals nobody decided, and ``task_logs`` retention."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from aadap.core.exceptions import InvalidRequestError
from aadap.db import models
from aadap.db.session import Database
from aadap.services import budget_watch, maintenance
from tests import builders

NOW = dt.datetime(2025, 3, 20, 9, 0, tzinfo=dt.UTC)


def approval(
    task_id: uuid.UUID, *, expires_at: dt.datetime | None, **fields: Any
) -> models.ApprovalRequest:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "task_id": task_id,
        "operation_class": "write",
        "environment": "PRODUCTION",
        "risk_level": "MEDIUM",
        "status": "PENDING",
        "code_hash": uuid.uuid4().hex,
        "requested_by": "system:policy",
        "requested_at": NOW - dt.timedelta(hours=5),
        "expires_at": expires_at,
    }
    values.update(fields)
    return models.ApprovalRequest(**values)


async def add(db: Database, *rows: Any) -> None:
    async with db.transaction() as session:
        for row in rows:  # one flush each: no ORM relationship orders tasks before their children
            session.add(row)
            await session.flush()


async def rows(db: Database, model: type[Any]) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def test_expired_requests_fail_live_tasks_once(db: Database) -> None:
    waiting = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW", flow_run_id="fr-1")
    fresh = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW")
    done = builders.task(id=uuid.uuid4(), current_state="COMPLETED")
    decided = builders.task(id=uuid.uuid4(), current_state="APPROVED")
    due = approval(waiting.id, expires_at=NOW - dt.timedelta(minutes=1))
    later = approval(fresh.id, expires_at=NOW + dt.timedelta(minutes=1))
    stale = approval(done.id, expires_at=NOW - dt.timedelta(days=2))
    approved = approval(decided.id, expires_at=NOW - dt.timedelta(days=1), status="APPROVED")
    never = approval(fresh.id, expires_at=None)
    await add(db, waiting, fresh, done, decided, due, later, stale, approved, never)

    expired = await maintenance.expire_approvals(db, now=NOW)

    assert sorted((e.approval_id, e.task_state, e.task_failed) for e in expired) == sorted(
        [(due.id, "IN_REVIEW", True), (stale.id, "COMPLETED", False)]
    )
    status = {r.id: (r.status, r.decided_by) for r in await rows(db, models.ApprovalRequest)}
    assert status[due.id] == status[stale.id] == ("EXPIRED", "system:reconcile")
    assert status[later.id][0] == status[never.id][0] == "PENDING"
    assert status[approved.id][0] == "APPROVED"

    state = {t.id: t.current_state for t in await rows(db, models.Task)}
    assert state == {
        waiting.id: "FAILED",
        fresh.id: "IN_REVIEW",
        done.id: "COMPLETED",
        decided.id: "APPROVED",
    }
    [transition] = await rows(db, models.StateTransition)
    assert (transition.task_id, transition.from_state, transition.to_state) == (
        waiting.id,
        "IN_REVIEW",
        "FAILED",
    )
    assert transition.reason.startswith("[APPROVAL_EXPIRED]")
    assert transition.metadata_["error"]["error_code"] == "APPROVAL_EXPIRED"

    logs = {r.task_id: r for r in await rows(db, models.TaskLog)}
    error = logs[waiting.id]
    assert (error.level, error.event, error.error_code, error.severity) == (
        "ERROR",
        "approval.expired",
        "APPROVAL_EXPIRED",
        "HIGH",
    )
    assert (error.flow_run_id, error.correlation_id) == ("fr-1", waiting.correlation_id)
    assert str(due.id) in error.message and "marked FAILED" in error.message
    info = logs[done.id]
    assert (info.level, info.error_code) == ("INFO", None)
    assert "already ended COMPLETED" in info.message

    assert await maintenance.expire_approvals(db, now=NOW) == []  # a second run changes nothing
    assert len(await rows(db, models.TaskLog)) == 2
    later_run = await maintenance.expire_approvals(db, now=NOW + dt.timedelta(hours=1))
    assert [(e.approval_id, e.task_failed) for e in later_run] == [(later.id, True)]


async def test_logs_older_than_retention_are_deleted_in_batches(db: Database) -> None:
    task = builders.task(id=uuid.uuid4())
    ages = {"keep-89d": 89, "drop-91d": 91, "drop-100d": 100, "drop-400d": 400, "keep-now": 0}
    entries = [
        builders.log(task.id, message=name, created_at=NOW - dt.timedelta(days=days))
        for name, days in ages.items()
    ]
    await add(db, task, *entries)

    deleted = await maintenance.purge_logs(db, retention_days=90, now=NOW, batch_size=2)

    assert deleted == 3
    remaining = await rows(db, models.TaskLog)
    assert sorted(r.message for r in remaining if r.event != "logs.purged") == [
        "keep-89d",
        "keep-now",
    ]
    [audit] = [r for r in remaining if r.event == "logs.purged"]
    assert (audit.level, audit.task_id, audit.details["deleted"]) == ("INFO", None, 3)
    assert await maintenance.purge_logs(db, retention_days=90, now=NOW) == 0


async def test_budget_alerts_outlive_a_short_retention(db: Database) -> None:
    def alert(days: int) -> models.TaskLog:
        return builders.log(
            None,
            level="WARNING",
            event=budget_watch.THRESHOLD_EVENT,
            message=f"alert {days}d",
            created_at=NOW - dt.timedelta(days=days),
        )

    await add(
        db,
        alert(20),
        alert(40),
        builders.log(None, message="plain", created_at=NOW - dt.timedelta(days=20)),
    )
    assert await maintenance.purge_logs(db, retention_days=7, now=NOW) == 2
    kept = [r.message for r in await rows(db, models.TaskLog) if r.event != "logs.purged"]
    assert kept == ["alert 20d"]  # the month's alert must stay, or it would be written again


async def test_bad_retention_is_refused(db: Database) -> None:
    with pytest.raises(InvalidRequestError, match="retention_days=0"):
        await maintenance.purge_logs(db, retention_days=0, now=NOW)
