"""The task cursor: where a task stands in the state machine, and the moves that take it on.

A step's output artifact and its closing transition commit in one transaction, so "the
state says done" and "the output exists" never disagree. The step use cases that drive
the cursor live in :mod:`aadap.services.authoring`, :mod:`aadap.services.approval_gate`
and :mod:`aadap.services.deployment`.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType
from aadap.core.exceptions import TaskNotFoundError
from aadap.core.states import TaskState, check_transition
from aadap.db.base import Base
from aadap.db.models import Artifact, CostRecord, Task
from aadap.db.repos import task_repo
from aadap.services import artifacts, context, costs, ledger
from aadap.services.runtime import Runtime

S = TaskState

#: Position of each state on the happy path; rework states sit where they re-enter.
RANK: dict[TaskState, int] = {
    state: index
    for index, state in enumerate(
        [
            S.SUBMITTED, S.PARSING, S.PARSED, S.PLANNING, S.PLANNED, S.AGENT_ASSIGNMENT,
            S.AGENT_ASSIGNED, S.IN_DEVELOPMENT, S.CODE_GENERATED, S.IN_VALIDATION,
            S.VALIDATION_PASSED, S.OPTIMIZATION_PENDING, S.IN_OPTIMIZATION, S.OPTIMIZED,
            S.APPROVAL_PENDING, S.IN_REVIEW, S.APPROVED, S.DEPLOYING, S.DEPLOYED, S.COMPLETED,
        ]
    )
}  # fmt: skip
RANK.update(
    {
        S.PARSE_FAILED: RANK[S.PARSING],
        S.DEV_FAILED: RANK[S.IN_DEVELOPMENT],
        S.VALIDATION_FAILED: RANK[S.IN_VALIDATION],
        S.REJECTED: RANK[S.IN_REVIEW],
    }
)


#: Steps whose successor is fixed: finishing one also enters the next step, in the same
#: transaction (one commit fewer per step), by the next step's agent. The next step
#: finds its state already entered and goes straight to its work, as a resumed run
#: does. Where the next step depends on the outcome (a review, the plan's optimise
#: flag, an approval) or the move is final (COMPLETED), the next step enters it itself,
#: except that a passed review enters the optimiser's states when the plan asks for
#: optimisation (``validate(optimise_next=True)``).
ENTERS_NEXT: dict[TaskState, tuple[TaskState, str]] = {
    S.PARSED: (S.PLANNING, "planner"),
    S.PLANNED: (S.AGENT_ASSIGNMENT, "router"),
    S.AGENT_ASSIGNED: (S.IN_DEVELOPMENT, "developer"),
    S.CODE_GENERATED: (S.IN_VALIDATION, "reviewer"),
}


def reached(state: TaskState, milestone: TaskState) -> bool:
    """Has a task in ``state`` already passed ``milestone`` (ignoring terminal states)?"""
    return state in RANK and RANK[state] >= RANK[milestone]


def _naming(hop: ledger.Hop, stored: Artifact, *, version: bool = False) -> ledger.Hop:
    """``hop`` with its metadata naming the artifact it stores (and its version)."""
    named: dict[str, Any] = {"artifact_id": str(stored.id), "content_hash": stored.content_hash}
    if version:
        named["version"] = stored.version
    return dataclasses.replace(hop, metadata={**(hop.metadata or {}), **named})


@dataclass(frozen=True)
class Committed:
    """What a commit stored: the output artifact (its version and parent set; the newest
    version instead where that held the same content) and the task's new totals, where
    a cost row was given."""

    output: Artifact | None
    totals: tuple[int, Decimal] | None


class TaskCursor:
    """Where one task stands and how it moves: the state this run last read or committed
    (kept in the runtime, shared by the run's steps), and the transactions that move the
    task on with what a step stores. Stateless between runs: everything lives in the
    database."""

    def __init__(self, rt: Runtime, task_id: uuid.UUID) -> None:
        self.rt = rt
        self.task_id = task_id
        self._moving: TaskState | None = None  # the state reached inside ``transaction()``
        #: the moves made inside ``transaction()``, appended together before it commits,
        #: and the state they start from
        self._hops: list[ledger.Hop] | None = None
        self._path_from: TaskState | None = None

    @property
    def _known(self) -> TaskState | None:
        """The state this run last read or committed: the expected state of its next move
        (the compare-and-set in ``ledger.record_transition`` refuses it if stale). Kept in
        the runtime, so the steps of one run share it instead of each reading it again."""
        return self.rt.states.get(self.task_id)

    @_known.setter
    def _known(self, state: TaskState) -> None:
        self.rt.states[self.task_id] = state

    def moved_to(self, state: TaskState) -> None:
        """Note a move committed outside this object's own methods (``approval_gate``)."""
        self._known = state

    async def task(self) -> Task:
        """The task's row, read now."""
        async with self.rt.db.sessions() as session:
            task = await task_repo.get_task(session, task_id=self.task_id)
        if task is None:
            raise TaskNotFoundError(
                f"task {self.task_id} does not exist", task_id=str(self.task_id)
            )
        return task

    async def facts(self) -> Task:
        """The task's row as this run first read it: for what never changes once the task
        exists (platform, environment, connection, request), not its state or totals."""
        row = self.rt.task_rows.get(self.task_id)
        if row is None:
            row = self.rt.task_rows[self.task_id] = await self.task()
        return row

    async def state(self) -> TaskState:
        """The task's state: as this run last read or committed it, else read now.

        A move from a stale state is refused by the ledger (``StateConflictError``), and
        a step that fails drops the remembered state, so its retry reads afresh."""
        known = self._known
        if known is not None:
            return known
        async with self.rt.db.sessions() as session:
            self._known = state = await ledger.current_state(session, self.task_id)
        return state

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """``Database.transaction`` whose moves (:meth:`move`) are appended together, as one
        path, before it commits; this run remembers the state reached once it commits,
        and forgets it if it does not."""
        self._moving = self._known
        self._hops, self._path_from = [], None
        try:
            async with self.rt.db.transaction() as session:
                yield session
                if self._hops:
                    await ledger.record_path(
                        session, task_id=self.task_id, hops=self._hops,
                        expected_from=self._path_from,
                    )  # fmt: skip
        finally:
            self._hops = None
        if self._moving is not None:
            self._known = self._moving

    async def move(
        self,
        session: AsyncSession,
        target: TaskState,
        *,
        by: str,
        reason: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Move to ``target`` inside :meth:`transaction`, from the state this run last knew
        (read in the transaction if none), unless the task is already there. The move is
        written with the transaction's other moves when its body ends (a refused one
        raises there, and nothing commits)."""
        now = self._moving or await ledger.current_state(session, self.task_id)
        if now is target:
            return
        if self._hops is None:  # a caller's own transaction: written at once
            await ledger.record_transition(
                session, task_id=self.task_id, to_state=target, triggered_by=by,
                reason=reason, expected_from=now, metadata=metadata,
            )  # fmt: skip
        else:
            # refused here, where the caller asked for it (``record_path`` checks again)
            check_transition(now, target, task_id=str(self.task_id))
            if not self._hops:
                self._path_from = now
            self._hops.append(ledger.Hop(target, by, reason, metadata))
        self._moving = target

    async def enter(self, *targets: TaskState, by: str, reason: str | None = None) -> TaskState:
        """Move through ``targets`` in order, in one transaction, skipping any the task is
        already in."""
        now = await self.state()
        if all(target is now for target in targets):
            return now
        async with self.transaction() as session:
            for target in targets:
                await self.move(session, target, by=by, reason=reason)
        return targets[-1]

    async def begin(self, done_at: TaskState, target: TaskState, *, by: str) -> TaskState:
        """Unless the step is already done (``done_at`` reached), enter ``target``.
        Returns the state the step found."""
        now = await self.state()
        if not reached(now, done_at):
            await self.enter(target, by=by)
        return now

    async def finish_step(
        self,
        target: TaskState,
        *,
        by: str,
        output: BaseModel | str,
        kind: ArtifactType,
        name: str,
        reason: str | None = None,
        metadata: dict[str, Any] | None = None,
        then: tuple[tuple[TaskState, str], ...] = (),
    ) -> Artifact:
        """Store the step's output and move to ``target`` (and, where the next step is
        fixed, :data:`ENTERS_NEXT`, make that step's first move; else the moves ``then``,
        each a state and its agent) at once (:meth:`commit`). Returns the stored artifact,
        or its newest version if that holds the same content."""
        content = output if isinstance(output, str) else output.model_dump_json(indent=2)
        row = artifacts.new_row(
            task_id=self.task_id, artifact_type=kind, name=name, content=content,
            metadata=metadata,
        )  # fmt: skip
        following = ENTERS_NEXT.get(target)
        after = then if following is None else (following,)
        hops = [ledger.Hop(target, by, reason)]
        hops += [ledger.Hop(state, agent) for state, agent in after]
        done = await self.commit(hops, output=row)
        assert done.output is not None  # an output given is stored or found
        return done.output

    async def commit(
        self,
        hops: Sequence[ledger.Hop],
        *,
        output: Artifact | None = None,
        also: Sequence[Artifact] = (),
        rows: Sequence[Base] = (),
        updates: Sequence[tuple[Table, uuid.UUID, Mapping[str, Any]]] = (),
        cost_row: CostRecord | None = None,
    ) -> Committed:
        """Move through ``hops`` (skipping a target the task is already in, as
        :meth:`move`) and write, all or nothing:

        * ``output`` (:func:`artifacts.new_row`): stored as the next version, or, if the
          newest version holds the same content, that one is; the first hop's metadata
          names it (``artifact_id``, ``version``, ``content_hash``);
        * ``also``: more new artifact rows, each stored unless its newest version holds
          the same content;
        * ``rows``: new ORM rows of any table;
        * ``updates``: ``(table, id, values)``, that row's columns set;
        * ``cost_row``: a new cost row, added to the task's totals (returned).

        One transaction, which refuses a stale state (``StateConflictError``) as every
        move does."""
        settle = self._settlement()
        totals = stored = None
        async with self.transaction() as session:
            if settle is not None:
                await session.execute(*settle)
            for artifact in also:
                await artifacts.store(session, artifact)
            if rows:
                session.add_all(rows)
                await session.flush()
            for table, row_id, values in updates:
                await session.execute(table.update().where(table.c.id == row_id).values(values))
            if cost_row is not None:
                tokens, usd = costs.added_by(cost_row)
                totals = await costs.store_and_add(
                    session, cost_row, self.task_id, tokens=tokens, cost=usd
                )
            path = list(hops)
            if output is not None:
                stored = await artifacts.store(session, output)
                path[0] = _naming(path[0], stored, version=True)
            for hop in path:
                await self.move(
                    session, hop.to_state, by=hop.triggered_by, reason=hop.reason,
                    metadata=hop.metadata,
                )  # fmt: skip
        if settle is not None:
            _settled()
        return Committed(stored, totals)

    def _settlement(self) -> tuple[Any, dict[str, Any]] | None:
        """The statement that settles this step attempt's LLM calls (``succeeded``, earlier
        attempts' ``failed``), for the commit that records the step's finish: a process
        killed right after that commit leaves them settled, where the step's completion
        hook would never run. None outside a step, or when every call of the step is
        settled already."""
        ctx = context.current()
        if ctx is None or ctx.task_id != self.task_id or ctx.task_run_id is None:
            return None
        if ctx.spend is None or not ctx.spend.unsettled(ctx.task_run_id):
            return None
        return costs.settle_attempts(
            task_run_id=ctx.task_run_id, final_attempt=ctx.attempt, succeeded=True
        )


def _settled() -> None:
    """Note that the commit just made settled the current step attempt's calls (the
    step's completion hook then has none left to settle)."""
    ctx = context.current()
    if ctx is not None and ctx.task_run_id is not None and ctx.spend is not None:
        ctx.spend.settled[ctx.task_run_id] = ctx.spend.calls_of(ctx.task_run_id)


__all__ = ["ENTERS_NEXT", "RANK", "Committed", "TaskCursor", "reached"]
