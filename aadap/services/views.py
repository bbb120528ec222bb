"""Read models for the CLI and the API: what a task, its trail, its logs, its approvals and
the spend look like to a reader.

Each function opens one read session (``db.sessions()``), runs its queries and returns
frozen dataclasses of plain values, which outlive the session: no live ORM object leaves
this module. Where a service already answers the question (``tasks.find``,
``approvals.pending``, ``logs.fetch``, ``costs.summarise``) it is called here; the SQL
of the rest stays here until the repositories of ``aadap.db.repos`` take it over.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import LogLevel
from aadap.core.states import TaskState
from aadap.db.models import ApprovalRequest, Task, TaskLog
from aadap.db.repos import approval_repo, artifact_repo, execution_repo, task_repo
from aadap.db.session import Database
from aadap.services import approvals, artifacts, costs, logs, tasks


@dataclass(frozen=True, slots=True)
class TaskRow:
    """A task as a list shows it."""

    id: uuid.UUID
    title: str
    state: str
    tokens_used: int
    cost_usd: Decimal
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Transition:
    """One step of a task's state trail."""

    sequence_num: int
    from_state: str
    to_state: str
    triggered_by: str
    reason: str | None
    created_at: dt.datetime


@dataclass(frozen=True, slots=True)
class ArtifactRow:
    """One version of one artifact (its content is left out)."""

    artifact_type: str
    name: str
    version: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class ApprovalRow:
    """An approval request, with what a reviewer needs of its task."""

    id: uuid.UUID
    task_id: uuid.UUID
    title: str
    status: str
    operation_class: str
    risk_level: str
    environment: str
    requested_at: dt.datetime
    expires_at: dt.datetime | None
    decided_by: str | None
    reason: str | None
    code_hash: str
    flow_run_id: str | None


@dataclass(frozen=True, slots=True)
class ApprovalDetail:
    """An approval request with the analysis findings and the code it asks about."""

    request: ApprovalRow
    findings: list[dict[str, Any]]
    code: str | None


@dataclass(frozen=True, slots=True)
class DecisionTarget:
    """A request still waiting for a decision, and the run that waits for it."""

    request: ApprovalRow
    #: the identity of the process that runs the task (``tasks.metadata.runner``)
    runner: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExecutionRow:
    """One run of code on a platform."""

    id: uuid.UUID
    status: str
    rows_affected: int | None
    duration_ms: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class TaskDetail:
    """One task with its state trail, artifacts, approval requests and executions."""

    id: uuid.UUID
    title: str
    request: str
    state: str
    environment: str
    platform: str
    tokens_used: int
    token_budget: int
    cost_usd: Decimal
    cost_budget_usd: Decimal | None
    correlation_id: str
    flow_run_id: str | None
    transitions: list[Transition]
    artifacts: list[ArtifactRow]
    approvals: list[ApprovalRow]
    executions: list[ExecutionRow]


@dataclass(frozen=True, slots=True)
class RunTrail:
    """The task a flow run created: its state now and its trail so far."""

    task_id: uuid.UUID
    state: TaskState
    transitions: list[Transition]


@dataclass(frozen=True, slots=True)
class LogLine:
    """One ``task_logs`` row."""

    created_at: dt.datetime
    level: str
    event: str
    message: str
    source: str
    error_code: str | None
    severity: str | None
    attempt: int | None
    flow_run_id: str | None
    task_run_id: str | None
    correlation_id: str | None


@dataclass(frozen=True, slots=True)
class SpendRow:
    """The spend of one group (a task, agent, model, day, week or month)."""

    key: str
    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: Decimal
    unpriced_calls: int
    title: str | None = None  # a task's, when grouped by task


# --- tasks ---------------------------------------------------------------------------------


async def recent_tasks(
    db: Database, *, limit: int = 50, state: TaskState | None = None
) -> list[TaskRow]:
    """The newest tasks first (only those in ``state``, if given)."""
    async with db.sessions() as session:
        return [_task_row(t) for t in await tasks.list_recent(session, limit=limit, state=state)]


async def find_task(db: Database, ident: str) -> TaskRow:
    """The task of a full id or a unique prefix (``tasks.find``)."""
    async with db.sessions() as session:
        return _task_row(await tasks.find(session, ident))


async def task_detail(db: Database, ident: str) -> TaskDetail:
    """The task of a full id or a unique prefix, with everything recorded about it."""
    async with db.sessions() as session:
        task = await tasks.find(session, ident)
        trail = await _transitions(session, task.id)
        arts = await artifacts.for_task(session, task.id)
        requests = await approval_repo.list_of_task(session, task_id=task.id)
        runs = await execution_repo.list_of_task(session, task_id=task.id)
    return TaskDetail(
        id=task.id, title=task.title, request=task.request, state=task.current_state,
        environment=task.environment, platform=task.platform, tokens_used=task.tokens_used,
        token_budget=task.token_budget, cost_usd=task.cost_usd,
        cost_budget_usd=task.cost_budget_usd, correlation_id=task.correlation_id,
        flow_run_id=task.flow_run_id, transitions=trail,
        artifacts=[ArtifactRow(a.artifact_type, a.name, a.version, a.content_hash) for a in arts],
        approvals=[_approval_row(a, task) for a in requests],
        executions=[
            ExecutionRow(e.id, e.status, e.rows_affected, e.duration_ms, e.error) for e in runs
        ],
    )  # fmt: skip


async def run_trail(db: Database, flow_run_id: str) -> RunTrail | None:
    """The task ``flow_run_id`` created and its trail so far; None before it exists."""
    async with db.sessions() as session:
        task = await task_repo.get_task_by_flow_run(session, flow_run_id=flow_run_id)
        if task is None:
            return None
        trail = await _transitions(session, task.id)
    return RunTrail(task_id=task.id, state=TaskState(task.current_state), transitions=trail)


def _task_row(task: Task) -> TaskRow:
    return TaskRow(
        id=task.id,
        title=task.title,
        state=task.current_state,
        tokens_used=task.tokens_used,
        cost_usd=task.cost_usd,
        created_at=task.created_at,
    )


async def _transitions(session: AsyncSession, task_id: uuid.UUID) -> list[Transition]:
    return [
        Transition(t.sequence_num, t.from_state, t.to_state, t.triggered_by, t.reason, t.created_at)
        for t in await task_repo.list_transitions(session, task_id=task_id)
    ]


# --- logs and spend ------------------------------------------------------------------------


async def task_logs(
    db: Database, ident: str, *, min_level: LogLevel | None = None, search: str | None = None
) -> list[LogLine]:
    """The ``task_logs`` rows of the task of a full id or a unique prefix, oldest first."""
    async with db.sessions() as session:
        task = await tasks.find(session, ident)
        rows = await logs.fetch(session, task_id=task.id, min_level=min_level, search=search)
    return [_log_line(r) for r in rows]


def _log_line(row: TaskLog) -> LogLine:
    return LogLine(
        created_at=row.created_at, level=row.level, event=row.event, message=row.message,
        source=row.source, error_code=row.error_code, severity=row.severity,
        attempt=row.attempt, flow_run_id=row.flow_run_id, task_run_id=row.task_run_id,
        correlation_id=row.correlation_id,
    )  # fmt: skip


async def spend(
    db: Database, *, by: costs.Grouping, since: dt.datetime | None, tz: dt.tzinfo
) -> list[SpendRow]:
    """Spend grouped ``by`` a key or a time bucket in ``tz`` (``costs.summarise``)."""
    async with db.sessions() as session:
        rows = await costs.summarise(session, by=by, since=since, tz=tz)
    return [
        SpendRow(
            key=row[by],
            calls=row["calls"],
            tokens_in=row["tokens_in"],
            tokens_out=row["tokens_out"],
            cost_usd=row["cost_usd"],
            unpriced_calls=row["unpriced_calls"],
            title=row.get("title"),
        )
        for row in rows
    ]


# --- approvals -----------------------------------------------------------------------------


async def pending_approvals(db: Database) -> list[ApprovalRow]:
    """The requests waiting for a decision, oldest first."""
    async with db.sessions() as session:
        return [_approval_row(a, t) for a, t in await approvals.pending(session)]


async def approval_detail(db: Database, ident: str) -> ApprovalDetail:
    """The request of a full id or a unique prefix, its findings and its code."""
    async with db.sessions() as session:
        request, task = await approvals.find(session, ident)
        art = (
            None
            if request.code_artifact_id is None
            else await artifact_repo.get(session, artifact_id=request.code_artifact_id)
        )
    return ApprovalDetail(
        request=_approval_row(request, task),
        findings=request.metadata_.get("analysis", {}).get("findings", []),
        code=None if art is None else art.content,
    )


async def decision_target(db: Database, ident: str) -> DecisionTarget:
    """The request of a full id or a unique prefix, refused with ``ApprovalNotWaitingError``
    unless it is still PENDING (``approvals.ensure_pending``)."""
    async with db.sessions() as session:
        request, task = await approvals.find(session, ident)
    approvals.ensure_pending(request)
    return DecisionTarget(
        request=_approval_row(request, task), runner=dict(task.metadata_.get("runner") or {})
    )


def _approval_row(request: ApprovalRequest, task: Task) -> ApprovalRow:
    return ApprovalRow(
        id=request.id, task_id=task.id, title=task.title, status=request.status,
        operation_class=request.operation_class, risk_level=request.risk_level,
        environment=request.environment, requested_at=request.requested_at,
        expires_at=request.expires_at, decided_by=request.decided_by, reason=request.reason,
        code_hash=request.code_hash, flow_run_id=task.flow_run_id,
    )  # fmt: skip


__all__ = [
    "ApprovalDetail",
    "ApprovalRow",
    "ArtifactRow",
    "DecisionTarget",
    "ExecutionRow",
    "LogLine",
    "RunTrail",
    "SpendRow",
    "TaskDetail",
    "TaskRow",
    "Transition",
    "approval_detail",
    "decision_target",
    "find_task",
    "pending_approvals",
    "recent_tasks",
    "run_trail",
    "spend",
    "task_detail",
    "task_logs",
]
