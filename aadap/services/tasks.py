"""Creating, finding and listing tasks."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from aadap.core import datapaths
from aadap.core.config import Settings
from aadap.core.enums import PlatformKind
from aadap.core.exceptions import (
    IdempotencyConflictError,
    InvalidRequestError,
    TaskNotFoundError,
)
from aadap.core.ids import new_id
from aadap.core.requests import TaskRequest, new_correlation_id
from aadap.core.states import TaskState
from aadap.db.models import Task
from aadap.db.repos import connection_repo, task_repo
from aadap.db.session import Database
from aadap.services import budget_watch, ledger


async def load(db: Database, task_id: uuid.UUID | str) -> Task:
    """:func:`get` in a read session of its own."""
    async with db.sessions() as session:
        return await get(session, task_id)


async def get(session: AsyncSession, task_id: uuid.UUID | str) -> Task:
    try:
        key = task_id if isinstance(task_id, uuid.UUID) else uuid.UUID(str(task_id))
    except ValueError as exc:
        raise InvalidRequestError(
            f"task id {task_id!r} is not a UUID", details={"field": "task_id"}
        ) from exc
    task = await task_repo.get_task(session, task_id=key)
    if task is None:
        raise TaskNotFoundError(f"task {key} does not exist", task_id=str(key))
    return task


async def find(session: AsyncSession, prefix: str) -> Task:
    """A task by full id or by a unique prefix of at least 6 characters (CLI convenience)."""
    if len(prefix) >= 32:
        return await get(session, prefix)
    if len(prefix) < 6:
        raise InvalidRequestError(
            f"task id prefix {prefix!r} is too short; give at least 6 characters"
        )
    rows = await task_repo.list_tasks(session)
    matches = [
        t
        for t in rows
        if t.id.hex.startswith(prefix.replace("-", "")) or str(t.id).startswith(prefix)
    ]
    if len(matches) != 1:
        raise TaskNotFoundError(
            f"no task matches {prefix!r}"
            if not matches
            else f"{len(matches)} tasks match {prefix!r}; give more characters"
        )
    return matches[0]


async def create(
    db: Database,
    settings: Settings,
    request: TaskRequest,
    *,
    flow_run_id: str | None = None,
    runner: dict[str, object] | None = None,
    now: dt.datetime | None = None,
    first_step: tuple[TaskState, str] | None = None,
) -> tuple[Task, bool]:
    """Create the task for ``request``, or return the existing one for its idempotency key
    (:func:`of_idempotency_key`: the same key with a different request is refused).

    Returns ``(task, created)``.
    ``runner``: the identity of the process that will run it (``metadata.runner``).
    ``first_step``: the state the lifecycle's first step enters and that step's agent; the
    new task moves there from SUBMITTED in the transaction that creates it (the lifecycle
    run creating it would commit that move a moment later in a transaction of its own).
    A new task is refused with ``CostBudgetExceededError`` while the daily or monthly
    spend is at its hard limit (``now``: the clock for that check; the wall clock if None).
    """
    existing = await of_idempotency_key(db, request, settings)
    if existing is not None:
        return existing, False
    working_dir = checked_working_dir(request, settings)
    await budget_watch.ensure_spend_allows_new_task(db, settings, now=now)
    try:
        task = Task(
            id=new_id(),
            title=request.effective_title,
            description=request.text if request.title else None,
            request=request.text,
            environment=request.environment.value,
            platform=request.platform.value,
            current_state=TaskState.SUBMITTED.value,
            priority=request.priority,
            token_budget=request.token_budget
            if request.token_budget is not None
            else settings.budgets.task_tokens,
            cost_budget_usd=request.usd_budget
            if request.usd_budget is not None
            else settings.budgets.task_usd,
            correlation_id=request.correlation_id or new_correlation_id(),
            idempotency_key=request.idempotency_key,
            flow_run_id=flow_run_id,
            created_by=request.created_by,
            metadata_={
                "working_dir": working_dir,
                "connection": request.connection,
                **({} if runner is None else {"runner": runner}),
            },
        )
        first = [] if first_step is None else [ledger.Hop(first_step[0], first_step[1])]
        async with db.transaction() as session:
            task.connection_id = await _connection_id(session, request, settings)
            await task_repo.add_task(session, task=task)
            if first:
                await ledger.record_path(
                    session, task_id=task.id, hops=first, expected_from=TaskState.SUBMITTED
                )
                # the move wrote the column; set as loaded, so the commit's flush does
                # not write it again in an UPDATE of its own
                set_committed_value(task, "current_state", first[-1].to_state.value)
    except IntegrityError as exc:
        if request.idempotency_key and "idempotency_key" in str(exc.orig):
            # a concurrent submit with the same key won the race: theirs is the task
            winner = await of_idempotency_key(db, request, settings)
            assert winner is not None  # the unique key refused ours: theirs is committed
            return winner, False
        raise
    return task, True


def _working_dir(request: TaskRequest, settings: Settings) -> str:
    return str(datapaths.working_dir(request.working_dir, settings.resolved_data_root))


def checked_working_dir(request: TaskRequest, settings: Settings) -> str:
    """Where the request's relative paths resolve (its ``working_dir``, relative to the
    data root, else the data root itself), once every path it names is found under the
    data root (``DataPathOutsideRootError`` otherwise: before a task exists, before any
    LLM call)."""
    working_dir = _working_dir(request, settings)
    datapaths.check_request_paths(
        request.text, working_dir=Path(working_dir), root=settings.resolved_data_root
    )
    return working_dir


def _differences(task: Task, request: TaskRequest, settings: Settings) -> list[str]:
    """The fields in which ``request`` differs from the one ``task`` was created from
    (budgets only where the request gives one: left out, the settings' default applies)."""
    stored: dict[str, tuple[object, object]] = {
        "text": (task.request, request.text),
        "environment": (task.environment, request.environment.value),
        "platform": (task.platform, request.platform.value),
        "connection": (task.metadata_.get("connection"), request.connection),
        "working_dir": (task.metadata_.get("working_dir"), _working_dir(request, settings)),
    }
    if request.token_budget is not None:
        stored["token_budget"] = (task.token_budget, request.token_budget)
    if request.usd_budget is not None:
        stored["usd_budget"] = (task.cost_budget_usd, request.usd_budget)
    return [name for name, (theirs, ours) in stored.items() if theirs != ours]


async def of_idempotency_key(db: Database, request: TaskRequest, settings: Settings) -> Task | None:
    """The task ``request``'s idempotency key already names, if any (None without a key).

    The same key means the same request: a key that names a task created from a
    different request is refused with ``IdempotencyConflictError`` naming that task."""
    if not request.idempotency_key:
        return None
    async with db.sessions() as session:
        existing = await task_repo.get_task_by_idempotency_key(
            session, idempotency_key=request.idempotency_key
        )
    if existing is None:
        return None
    differ = _differences(existing, request, settings)
    if differ:
        raise IdempotencyConflictError(
            f"idempotency key {request.idempotency_key!r} already names task {existing.id} "
            f"({existing.current_state}), created from a different request (it differs in "
            f"{', '.join(differ)}); use a new key, or the same request to get that task back",
            task_id=str(existing.id),
            details={
                "field": "idempotency_key",
                "idempotency_key": request.idempotency_key,
                "existing_task_id": str(existing.id),
                "differs_in": differ,
            },
        )
    return existing


async def _connection_id(
    session: AsyncSession, request: TaskRequest, settings: Settings
) -> uuid.UUID | None:
    if request.connection is None:
        if request.platform is PlatformKind.LOCAL:
            return None
        # imported here: it loads the platform SDKs, which reading tasks does not need
        from aadap.services import connections

        default = await connections.default_for(session, settings, request.platform)
        return None if default is None else default.id
    conn = await connection_repo.get_by_name(session, name=request.connection)
    if conn is None:
        raise InvalidRequestError(
            f"connection={request.connection!r} does not exist; list them with `aadap connections list`",
            details={"field": "connection"},
        )
    if conn.platform != request.platform.value:
        raise InvalidRequestError(
            f"connection {request.connection!r} is a {conn.platform} connection but platform={request.platform.value!r}",
            details={"field": "connection"},
        )
    return conn.id


async def of_flow_run(db: Database, flow_run_id: str) -> uuid.UUID | None:
    """The task a flow run created, if any (a re-run of the same flow run continues it)."""
    async with db.sessions() as session:
        return await task_repo.get_task_id_by_flow_run(session, flow_run_id=flow_run_id)


async def set_flow_run(
    db: Database, task_id: uuid.UUID, flow_run_id: str | None, runner: dict[str, object]
) -> None:
    async with db.transaction() as session:
        task = await get(session, task_id)
        task.flow_run_id = flow_run_id
        task.metadata_ = {**task.metadata_, "runner": runner}


async def list_recent(
    session: AsyncSession, *, limit: int = 50, state: TaskState | None = None
) -> list[Task]:
    return await task_repo.list_recent_tasks(
        session, limit=limit, state=None if state is None else state.value
    )


__all__ = [
    "create",
    "find",
    "get",
    "list_recent",
    "of_flow_run",
    "of_idempotency_key",
    "set_flow_run",
]
