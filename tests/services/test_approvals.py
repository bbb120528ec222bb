"""An approval request ends with its run: closing a task closes its PENDING request as
CANCELLED with the reason (recorded), reconcile closes any left behind, and a decision
on a request that is not PENDING is refused without changing anything."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from aadap.core.exceptions import ApprovalNotWaitingError, InvalidRequestError
from aadap.db import models
from aadap.db.session import Database
from aadap.services import approvals, outcome
from tests import builders


async def add(db: Database, *rows: Any) -> None:
    async with db.transaction() as session:
        for row in rows:  # one flush each: no ORM relationship orders tasks before their children
            session.add(row)
            await session.flush()


async def rows(db: Database, model: type[Any]) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars())


async def one(db: Database, request_id: uuid.UUID) -> models.ApprovalRequest:
    async with db.sessions() as session:
        found = await session.get(models.ApprovalRequest, request_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("close", "state", "by"),
    [
        (lambda db, t: outcome.cancel(db, t, by="prefect", reason="flow run cancelled"), "CANCELLED", "prefect"),
        (lambda db, t: outcome.fail(db, t, RuntimeError("disk full")), "FAILED", "lifecycle"),
        (
            lambda db, t: outcome.close(db, t, to=outcome.S.FAILED, by="flow:crashed", reason="flow run crashed"),
            "FAILED",
            "flow:crashed",
        ),
    ],
)  # fmt: skip
async def test_ending_a_task_closes_its_pending_request_with_the_reason(
    db: Database, close: Any, state: str, by: str
) -> None:
    task = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW")
    waiting = builders.approval(task.id)
    decided = builders.approval(task.id, status="REJECTED", decided_by="alice", reason="no")
    await add(db, task, waiting, decided)

    assert await close(db, task.id) is True

    closed = await one(db, waiting.id)
    assert (closed.status, closed.decided_by) == ("CANCELLED", by)
    assert closed.decided_at is not None
    assert closed.reason is not None and closed.reason.startswith(f"its run ended {state}: ")
    untouched = await one(db, decided.id)
    assert (untouched.status, untouched.decided_by, untouched.reason) == ("REJECTED", "alice", "no")
    [row] = [r for r in await rows(db, models.TaskLog) if r.event == approvals.CLOSED_EVENT]
    assert (row.level, row.task_id, row.details["approval_id"]) == (
        "INFO",
        task.id,
        str(waiting.id),
    )
    [task_row] = await rows(db, models.Task)
    assert task_row.current_state == state


async def test_reconcile_of_a_dead_run_closes_its_request(db: Database) -> None:
    gone = {"host": socket.gethostname(), "pid": 2**22 + 17, "deployment": False}
    task = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW", metadata_={"runner": gone})
    waiting = builders.approval(task.id)
    await add(db, task, waiting)

    [orphan] = await outcome.reconcile(db)

    assert orphan.task_id == task.id
    closed = await one(db, waiting.id)
    assert (closed.status, closed.decided_by) == ("CANCELLED", "reconcile")
    assert "is gone" in (closed.reason or "")


async def test_requests_left_pending_for_finished_tasks_are_closed_once(db: Database) -> None:
    done = builders.task(id=uuid.uuid4(), current_state="COMPLETED")
    live = builders.task(id=uuid.uuid4(), current_state="IN_REVIEW")
    stale, waiting = builders.approval(done.id), builders.approval(live.id)
    await add(db, done, live, stale, waiting)

    assert await approvals.close_for_finished_tasks(db, by="system:reconcile") == [stale.id]
    assert await approvals.close_for_finished_tasks(db, by="system:reconcile") == []

    closed = await one(db, stale.id)
    assert (closed.status, closed.reason) == ("CANCELLED", "its task had already ended COMPLETED")
    assert (await one(db, waiting.id)).status == "PENDING"


@pytest.mark.parametrize("status", ["CANCELLED", "EXPIRED", "APPROVED", "REJECTED", "FORBIDDEN"])
async def test_a_decision_on_a_request_that_is_not_pending_is_refused(
    db: Database, status: str
) -> None:
    task = builders.task(id=uuid.uuid4(), current_state="FAILED")
    request = builders.approval(task.id, status=status, decided_by="reconcile", reason="run ended")
    await add(db, task, request)
    async with db.sessions() as session:
        found, _ = await approvals.find(session, str(request.id)[:8])

    with pytest.raises(ApprovalNotWaitingError) as refused:
        approvals.ensure_pending(found)

    error = refused.value
    assert isinstance(error, InvalidRequestError)  # bad input: exit 2 from the CLI
    assert error.error_code == "APPROVAL_NOT_WAITING"
    assert str(request.id) in error.message and status in error.message
    assert "run ended" in error.message
    assert (await one(db, request.id)).status == status
