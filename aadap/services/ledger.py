"""The state ledger: every move of a task is one ``state_transitions`` row, written in
the same transaction as ``tasks.current_state``.

Compare-and-set: the ``UPDATE … WHERE current_state = :from`` both checks that the
caller saw the current state and, on PostgreSQL, locks the task row until commit,
so concurrent writers to one task serialise and ``MAX(sequence_num) + 1`` cannot
race (SQLite serialises all writers anyway).
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.exceptions import StateConflictError, TaskNotFoundError
from aadap.core.ids import new_id
from aadap.core.states import TaskState, check_transition
from aadap.db.models import StateTransition
from aadap.db.repos import task_repo
from aadap.db.types import utcnow
from aadap.services import progress


@dataclass(frozen=True)
class Hop:
    """One move of a path: where to, by whom, why, and what to record with it."""

    to_state: TaskState
    triggered_by: str
    reason: str | None = None
    metadata: dict[str, Any] | None = None


async def current_state(
    session: AsyncSession, task_id: uuid.UUID, *, for_update: bool = False
) -> TaskState:
    """The task's state; ``for_update`` locks its row until commit (PostgreSQL)."""
    state = await task_repo.get_current_state(session, task_id=task_id, for_update=for_update)
    if state is None:
        raise TaskNotFoundError(f"task {task_id} does not exist", task_id=str(task_id))
    return TaskState(state)


async def record_transition(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    to_state: TaskState,
    triggered_by: str,
    reason: str | None = None,
    expected_from: TaskState | None = None,
    metadata: dict[str, Any] | None = None,
) -> StateTransition:
    """Move ``task_id`` to ``to_state`` (whitelisted) and append the ledger row. Does not commit."""
    [row] = await record_path(
        session,
        task_id=task_id,
        hops=[Hop(to_state, triggered_by, reason, metadata)],
        expected_from=expected_from,
    )
    return row


async def record_path(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    hops: Sequence[Hop],
    expected_from: TaskState | None = None,
) -> list[StateTransition]:
    """Move ``task_id`` through ``hops`` in order, each move whitelisted, one ledger row per
    hop with consecutive sequence numbers. Does not commit.

    All or nothing, in one compare-and-set: ``tasks.current_state`` goes from
    ``expected_from`` (read here if not given) straight to the last hop's state, and the
    rows are appended by one INSERT, the same two statements on both dialects. A step
    that makes two or three moves in one transaction costs what one move costs.
    """
    if not hops:
        return []
    src = expected_from or await current_state(session, task_id)
    path = Path.of(task_id, src, hops)
    seqs: list[int] = []
    if await task_repo.set_state_if(
        session, task_id=task_id, expected=src.value, to_state=path.states[-1].value, at=path.at
    ):
        seqs = await task_repo.append_transitions(
            session, task_id=task_id, rows=path.new_rows(), at=path.at
        )
    if not seqs:
        raise await path.refused(session)
    return path.rows(seqs)


@dataclass
class Path:
    """A path's moves checked against the whitelist, with the ids and time of the ledger
    rows that append it (:func:`record_path`)."""

    task_id: uuid.UUID
    hops: Sequence[Hop]
    states: list[TaskState]  # where it starts, then each hop's state
    ids: list[uuid.UUID]
    at: dt.datetime

    @classmethod
    def of(cls, task_id: uuid.UUID, src: TaskState, hops: Sequence[Hop]) -> Path:
        states = [src, *(hop.to_state for hop in hops)]
        for before, after in itertools.pairwise(states):
            check_transition(before, after, task_id=str(task_id))
        return cls(task_id, hops, states, [new_id() for _ in hops], utcnow())

    def new_rows(self) -> list[task_repo.NewTransition]:
        """The ledger rows the path appends."""
        return [
            task_repo.NewTransition(
                self.ids[i],
                self.states[i].value,
                hop.to_state.value,
                hop.triggered_by,
                hop.reason,
                hop.metadata or {},
            )
            for i, hop in enumerate(self.hops)
        ]

    async def refused(self, session: AsyncSession) -> StateConflictError:
        """The error for a compare-and-set that moved nothing, naming the actual state."""
        src, task_id = self.states[0], self.task_id
        actual = await current_state(session, task_id)
        return StateConflictError(
            f"task {task_id} moved to {actual} while this writer expected {src}; {src} -> {self.states[1]} refused",
            task_id=str(task_id),
            details={
                "expected": src.value,
                "actual": actual.value,
                "to_state": self.states[1].value,
            },
        )

    def rows(self, seqs: list[int]) -> list[StateTransition]:
        """The appended rows, given their sequence numbers; reports each move
        (``progress``)."""
        seqs = sorted(seqs)
        rows = []
        for i, hop in enumerate(self.hops):
            rows.append(
                StateTransition(
                    id=self.ids[i],
                    task_id=self.task_id,
                    from_state=self.states[i].value,
                    to_state=hop.to_state.value,
                    triggered_by=hop.triggered_by,
                    reason=hop.reason,
                    metadata_=hop.metadata or {},
                    created_at=self.at,
                    sequence_num=seqs[i],
                )
            )
            progress.emit(self.task_id, self.states[i], hop.to_state, hop.reason)
        return rows


async def history(session: AsyncSession, task_id: uuid.UUID) -> list[StateTransition]:
    return await task_repo.list_transitions(session, task_id=task_id)


async def count_entries(session: AsyncSession, task_id: uuid.UUID, state: TaskState) -> int:
    """How many times the task entered ``state`` (bounds the rework loops across resumes)."""
    return await task_repo.count_transitions_into(session, task_id=task_id, state=state.value)
