"""The state ledger under concurrency, on both databases: compare-and-set on
``tasks.current_state`` and per-task sequence numbers that stay unique and contiguous."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, literal_column, select

from aadap.core.exceptions import (
    InvalidStateTransitionError,
    StateConflictError,
    TaskNotFoundError,
)
from aadap.core.requests import TaskRequest
from aadap.core.states import TaskState, can_transition
from aadap.db import models
from aadap.db.session import Database
from aadap.services import ledger, tasks
from tests import builders
from tests.conftest import settings_for

S = TaskState
HAPPY = [
    S.SUBMITTED, S.PARSING, S.PARSED, S.PLANNING, S.PLANNED, S.AGENT_ASSIGNMENT, S.AGENT_ASSIGNED,
    S.IN_DEVELOPMENT, S.CODE_GENERATED, S.IN_VALIDATION, S.VALIDATION_PASSED, S.APPROVAL_PENDING,
    S.IN_REVIEW, S.APPROVED, S.DEPLOYING, S.DEPLOYED, S.COMPLETED,
]  # fmt: skip
NEXT = dict(itertools.pairwise(HAPPY))


async def new_task(db: Database) -> uuid.UUID:
    async with db.transaction() as session:
        task = builders.task()
        session.add(task)
    return task.id


async def trail(db: Database, task_id: uuid.UUID) -> list[models.StateTransition]:
    async with db.sessions() as session:
        return await ledger.history(session, task_id)


async def state_of(db: Database, task_id: uuid.UUID) -> TaskState:
    async with db.sessions() as session:
        return await ledger.current_state(session, task_id)


async def move(
    db: Database, task_id: uuid.UUID, to: TaskState, *, expected: TaskState | None, by: str
) -> models.StateTransition:
    """One writer: its own session and transaction."""
    async with db.transaction() as session:
        return await ledger.record_transition(
            session, task_id=task_id, to_state=to, triggered_by=by, expected_from=expected
        )


def test_the_happy_path_is_whitelisted() -> None:
    assert all(can_transition(a, b) for a, b in NEXT.items())


async def test_ten_concurrent_writers_of_one_move_let_exactly_one_win(db: Database) -> None:
    task_id = await new_task(db)

    results = await asyncio.gather(
        *(move(db, task_id, S.PARSING, expected=S.SUBMITTED, by=f"w{i}") for i in range(10)),
        return_exceptions=True,
    )

    winners = [r for r in results if isinstance(r, models.StateTransition)]
    losers = [r for r in results if not isinstance(r, models.StateTransition)]
    assert len(winners) == 1
    assert len(losers) == 9
    assert all(isinstance(e, StateConflictError) for e in losers), losers
    assert all(e.details == {"expected": "SUBMITTED", "actual": "PARSING", "to_state": "PARSING"}
               for e in losers)  # fmt: skip
    assert all(e.retryable for e in losers)  # type: ignore[union-attr]
    rows = await trail(db, task_id)
    assert [(r.sequence_num, r.from_state, r.to_state, r.triggered_by) for r in rows] == [
        (1, "SUBMITTED", "PARSING", winners[0].triggered_by)
    ]
    assert await state_of(db, task_id) is S.PARSING


async def test_concurrent_writers_without_an_expected_state_never_write_twice(
    db: Database,
) -> None:
    """A writer that read the state after the winner committed asks for PARSING -> PARSING."""
    task_id = await new_task(db)

    results = await asyncio.gather(
        *(move(db, task_id, S.PARSING, expected=None, by=f"w{i}") for i in range(10)),
        return_exceptions=True,
    )

    assert sum(isinstance(r, models.StateTransition) for r in results) == 1
    refused = [r for r in results if not isinstance(r, models.StateTransition)]
    assert all(isinstance(e, StateConflictError | InvalidStateTransitionError) for e in refused)
    assert [r.sequence_num for r in await trail(db, task_id)] == [1]


async def test_racing_writers_that_retry_build_one_contiguous_chain(db: Database) -> None:
    """Eight writers race to advance the same task to COMPLETED, retrying on conflict."""
    task_id = await new_task(db)
    conflicts = 0

    async def writer(name: str) -> int:
        nonlocal conflicts
        mine = 0
        while (seen := await state_of(db, task_id)) is not S.COMPLETED:
            try:
                await move(db, task_id, NEXT[seen], expected=seen, by=name)
                mine += 1
            except StateConflictError:
                conflicts += 1
        return mine

    done = await asyncio.gather(*(writer(f"w{i}") for i in range(8)))

    rows = await trail(db, task_id)
    assert sum(done) == len(HAPPY) - 1
    assert [r.sequence_num for r in rows] == list(range(1, len(HAPPY)))
    assert [(r.from_state, r.to_state) for r in rows] == [
        (a.value, b.value) for a, b in itertools.pairwise(HAPPY)
    ]
    assert await state_of(db, task_id) is S.COMPLETED


async def test_concurrent_lifecycles_of_different_tasks_keep_their_own_sequences(
    db: Database,
) -> None:
    task_ids = [await new_task(db) for _ in range(6)]

    async def lifecycle(task_id: uuid.UUID) -> None:
        for src, dst in itertools.pairwise(HAPPY):
            await move(db, task_id, dst, expected=src, by="lifecycle")

    await asyncio.gather(*(lifecycle(t) for t in task_ids))

    for task_id in task_ids:
        rows = await trail(db, task_id)
        assert [r.sequence_num for r in rows] == list(range(1, len(HAPPY)))
        assert [r.to_state for r in rows] == [s.value for s in HAPPY[1:]]
    async with db.sessions() as session:
        total = (await session.execute(select(func.count(models.StateTransition.id)))).scalar_one()
    assert total == len(task_ids) * (len(HAPPY) - 1)


async def path(
    db: Database,
    task_id: uuid.UUID,
    states: list[TaskState],
    *,
    expected: TaskState | None,
    by: str,
) -> list[models.StateTransition]:
    """One writer moving through ``states`` in one transaction (``ledger.record_path``)."""
    async with db.transaction() as session:
        return await ledger.record_path(
            session, task_id=task_id, expected_from=expected,
            hops=[ledger.Hop(s, f"{by}:{s.value}", reason=f"to {s.value}",
                             metadata={"n": i}) for i, s in enumerate(states)],
        )  # fmt: skip


async def test_a_path_of_moves_appends_consecutive_rows_in_one_compare_and_set(
    db: Database,
) -> None:
    """A step's moves written together: one row per hop, chained from/to, numbered on from
    the ledger's last row, each with its own agent, reason and metadata."""
    task_id = await new_task(db)
    await move(db, task_id, S.PARSING, expected=S.SUBMITTED, by="parser")
    returned = await path(
        db, task_id, [S.PARSED, S.PLANNING, S.PLANNED], expected=S.PARSING, by="w"
    )
    rows = await trail(db, task_id)
    assert [(r.sequence_num, r.from_state, r.to_state, r.triggered_by, r.reason, r.metadata_)
            for r in rows] == [
        (1, "SUBMITTED", "PARSING", "parser", None, {}),
        (2, "PARSING", "PARSED", "w:PARSED", "to PARSED", {"n": 0}),
        (3, "PARSED", "PLANNING", "w:PLANNING", "to PLANNING", {"n": 1}),
        (4, "PLANNING", "PLANNED", "w:PLANNED", "to PLANNED", {"n": 2}),
    ]  # fmt: skip
    assert [(r.id, r.sequence_num) for r in returned] == [(r.id, r.sequence_num) for r in rows[1:]]
    assert await state_of(db, task_id) is S.PLANNED


async def test_concurrent_paths_from_one_state_let_exactly_one_win(db: Database) -> None:
    task_id = await new_task(db)
    results = await asyncio.gather(
        *(path(db, task_id, [S.PARSING, S.PARSED], expected=S.SUBMITTED, by=f"w{i}")
          for i in range(6)),
        return_exceptions=True,
    )  # fmt: skip
    winners = [r for r in results if isinstance(r, list)]
    assert len(winners) == 1, results
    assert all(isinstance(r, StateConflictError) for r in results if not isinstance(r, list))
    rows = await trail(db, task_id)
    assert [(r.sequence_num, r.to_state) for r in rows] == [(1, "PARSING"), (2, "PARSED")]
    assert {r.triggered_by.split(":")[0] for r in rows} == {
        winners[0][0].triggered_by.split(":")[0]
    }
    assert await state_of(db, task_id) is S.PARSED


async def test_a_path_with_one_refused_hop_writes_nothing(db: Database) -> None:
    task_id = await new_task(db)
    with pytest.raises(InvalidStateTransitionError, match="PARSED -> DEPLOYED"):
        await path(db, task_id, [S.PARSING, S.PARSED, S.DEPLOYED], expected=None, by="w")
    with pytest.raises(StateConflictError):
        await path(db, task_id, [S.PARSED, S.PLANNING], expected=S.PARSING, by="w")
    assert await trail(db, task_id) == []
    assert await state_of(db, task_id) is S.SUBMITTED


async def test_a_refused_move_writes_nothing(db: Database) -> None:
    task_id = await new_task(db)
    with pytest.raises(InvalidStateTransitionError, match="SUBMITTED -> DEPLOYED"):
        await move(db, task_id, S.DEPLOYED, expected=None, by="tests")
    with pytest.raises(StateConflictError):
        await move(db, task_id, S.PARSED, expected=S.PARSING, by="tests")
    assert await trail(db, task_id) == []
    assert await state_of(db, task_id) is S.SUBMITTED


async def test_a_missing_task_is_reported_as_such(db: Database) -> None:
    with pytest.raises(TaskNotFoundError):
        await move(db, uuid.uuid4(), S.PARSING, expected=None, by="tests")


async def test_rework_rounds_are_counted_from_the_ledger(db: Database) -> None:
    task_id = await new_task(db)
    path = [*HAPPY[: HAPPY.index(S.IN_VALIDATION) + 1]]
    for _ in range(2):
        path += [S.VALIDATION_FAILED, S.IN_DEVELOPMENT, S.CODE_GENERATED, S.IN_VALIDATION]
    for src, dst in itertools.pairwise(path):
        await move(db, task_id, dst, expected=src, by="tests")
    async with db.sessions() as session:
        assert await ledger.count_entries(session, task_id, S.VALIDATION_FAILED) == 2
        assert await ledger.count_entries(session, task_id, S.IN_DEVELOPMENT) == 3
        assert await ledger.count_entries(session, task_id, S.REJECTED) == 0
    assert [r.sequence_num for r in await trail(db, task_id)] == list(range(1, len(path)))


async def test_a_move_is_stored_with_everything_it_was_given(db: Database) -> None:
    task_id = await new_task(db)
    async with db.transaction() as session:
        returned = await ledger.record_transition(
            session, task_id=task_id, to_state=S.PARSING, triggered_by="parser",
            reason="because", metadata={"artifact_id": "a-1", "version": 2},
        )  # fmt: skip
    [stored] = await trail(db, task_id)
    assert (stored.id, stored.sequence_num, stored.from_state, stored.to_state) == (
        returned.id, 1, "SUBMITTED", "PARSING",
    )  # fmt: skip
    assert (stored.triggered_by, stored.reason) == ("parser", "because")
    assert stored.metadata_ == {"artifact_id": "a-1", "version": 2}
    assert stored.created_at is not None and stored.created_at.utcoffset() is not None
    assert await state_of(db, task_id) is S.PARSING


async def test_a_task_created_for_its_first_step_is_entered_in_the_same_commit(
    db: Database, tmp_path: Path, backend: str
) -> None:
    """``tasks.create(first_step=…)``, as a lifecycle creating its task calls it: the task
    starts in the step's state, reached from SUBMITTED by that step's agent, committed
    with the INSERT (same ``xmin`` on PostgreSQL); a task without it stays SUBMITTED."""
    settings = settings_for(db.engine.url.render_as_string(hide_password=False), tmp_path)
    request = TaskRequest.parse({"text": "list tables"})
    task, created = await tasks.create(db, settings, request, first_step=(S.PARSING, "parser"))
    assert created and task.current_state == S.PARSING.value
    pg = backend == "postgres"
    async with db.sessions() as session:
        row = (
            await session.execute(
                select(
                    models.Task.current_state,
                    literal_column("tasks.xmin") if pg else literal_column("0"),
                ).where(models.Task.id == task.id)
            )
        ).one()
        moves = (
            await session.execute(
                select(
                    models.StateTransition.from_state,
                    models.StateTransition.to_state,
                    models.StateTransition.triggered_by,
                    literal_column("state_transitions.xmin") if pg else literal_column("0"),
                ).where(models.StateTransition.task_id == task.id)
            )
        ).all()
    assert row[0] == "PARSING"
    assert [tuple(m) for m in moves] == [("SUBMITTED", "PARSING", "parser", row[1])]
    plain, _ = await tasks.create(db, settings, TaskRequest.parse({"text": "list tables"}))
    assert plain.current_state == "SUBMITTED" and await trail(db, plain.id) == []
