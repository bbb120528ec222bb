"""``task_logs``: structured rows for hook events, mirrored run logs and errors."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import LogLevel
from aadap.core.exceptions import AADAPError
from aadap.core.ids import new_id
from aadap.db.models import TaskLog
from aadap.db.repos import log_repo
from aadap.db.session import Database
from aadap.db.types import utcnow
from aadap.services import context

_LEVELS = list(LogLevel)


def entry(
    *,
    level: LogLevel,
    event: str,
    message: str,
    source: str,
    task_id: uuid.UUID | None = None,
    flow_run_id: str | None = None,
    task_run_id: str | None = None,
    correlation_id: str | None = None,
    attempt: int | None = None,
    error: BaseException | None = None,
    details: dict[str, Any] | None = None,
    created_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """A row's column values, filled from the current run context where the caller left
    fields out: what :func:`write` and :func:`add` insert. A plain dict, not an ORM
    object: the lifecycle writes two dozen of these per run, and building each as a
    ``TaskLog`` (the ORM's instrumented constructor, then reading it back column by
    column) cost more CPU than inserting it."""
    ctx = context.current()
    if ctx is not None:
        task_id = task_id or ctx.task_id
        flow_run_id = flow_run_id or ctx.flow_run_id
        correlation_id = correlation_id or ctx.correlation_id
    info = dict(details or {})
    error_code = severity = None
    if isinstance(error, AADAPError):
        error_code, severity = error.error_code, error.severity.name
        info.setdefault("error", error.to_dict())
    elif error is not None:
        info.setdefault("error", {"type": type(error).__name__, "message": str(error)[:2000]})
    return {
        "id": new_id(),
        "task_id": task_id,
        "flow_run_id": flow_run_id,
        "task_run_id": task_run_id,
        "level": level.value,
        "event": event,
        "message": message[:20_000],
        "source": source,
        "error_code": error_code,
        "severity": severity,
        "correlation_id": correlation_id,
        "attempt": attempt,
        "details": info,
        "created_at": created_at,
    }


def build(**fields: Any) -> TaskLog:
    """:func:`entry` as an ORM object, for callers that add it to their own session."""
    row = entry(**fields)
    if row["created_at"] is None:
        del row["created_at"]  # the column's default
    return TaskLog(**row)


async def write(db: Database, rows: Iterable[dict[str, Any]]) -> int:
    """Commit rows (:func:`entry`) now, all or none. Returns how many were written."""
    values = _stamped(rows)
    if values:
        # one row commits by itself in autocommit (no BEGIN and COMMIT round trips: the
        # lifecycle writes some twenty such rows); several share one transaction
        opened = db.sessions() if len(values) == 1 else db.transaction()
        async with opened as session:
            await log_repo.insert_logs(session, rows=values)
    return len(values)


async def add(session: AsyncSession, rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows (:func:`entry`) in the caller's transaction. Returns how many."""
    values = _stamped(rows)
    if values:
        await log_repo.insert_logs(session, rows=values)
    return len(values)


def _stamped(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    now = utcnow()
    return [{**row, "created_at": row["created_at"] or now} for row in rows]


def at_least(level: LogLevel) -> list[str]:
    return [lvl.value for lvl in _LEVELS[_LEVELS.index(level) :]]


async def fetch(
    session: AsyncSession,
    *,
    task_id: uuid.UUID | None = None,
    min_level: LogLevel | None = None,
    search: str | None = None,
    events: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[TaskLog]:
    """The rows of ``task_id`` at ``min_level`` or above, with ``search`` (a literal
    substring) in the message or event, of one of ``events``; oldest first, at most
    ``limit``: each filter only where given."""
    return await log_repo.list_logs(
        session,
        task_id=task_id,
        levels=None if min_level is None else at_least(min_level),
        search=search,
        events=events,
        limit=limit,
    )
