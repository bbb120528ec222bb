"""Task logs: the SQL of ``task_logs``.

Rows come in as column values (``aadap.services.logs.entry``) or ``TaskLog`` objects;
what to log, at which level, and how long to keep it are the services'.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Table, and_, delete, insert, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.db.models import TaskLog

_LOGS: Table = TaskLog.__table__  # type: ignore[assignment]
#: one INSERT of every column, compiled once: the rows go as its parameters
#: (an ``insert().values([...])`` is compiled anew on every call)
_INSERT = insert(_LOGS)


async def insert_logs(session: AsyncSession, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (every column given) as one executemany INSERT; outside a
    transaction (an autocommit session) each row commits by itself."""
    await session.execute(_INSERT, list(rows))


async def add_log(session: AsyncSession, *, log: TaskLog) -> None:
    """Add ``log`` to the session: inserted when it flushes."""
    session.add(log)


async def list_logs(
    session: AsyncSession,
    *,
    task_id: uuid.UUID | None = None,
    levels: Sequence[str] | None = None,
    search: str | None = None,
    events: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[TaskLog]:
    """The rows matching every filter given, oldest first: of ``task_id``, at one of
    ``levels``, with ``search`` (a literal substring, case-insensitive) in the message or
    the event, with one of ``events``; at most ``limit``."""
    query = select(TaskLog)
    if task_id is not None:
        query = query.where(TaskLog.task_id == task_id)
    if levels is not None:
        query = query.where(TaskLog.level.in_(list(levels)))
    if search:  # a literal substring: LIKE's own wildcards in it are escaped
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                TaskLog.message.ilike(pattern, escape="\\"),
                TaskLog.event.ilike(pattern, escape="\\"),
            )
        )
    if events:
        query = query.where(TaskLog.event.in_(list(events)))
    query = query.order_by(TaskLog.created_at, TaskLog.id)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.execute(query)).scalars().all())


async def delete_logs_before(
    session: AsyncSession,
    *,
    cutoff: dt.datetime,
    keep_events: Sequence[str],
    keep_since: dt.datetime,
    limit: int,
) -> int:
    """Delete up to ``limit`` rows created before ``cutoff``, except those of
    ``keep_events`` created at or after ``keep_since``. Returns how many it deleted."""
    old = and_(
        TaskLog.created_at < cutoff,
        not_(and_(TaskLog.event.in_(list(keep_events)), TaskLog.created_at >= keep_since)),
    )
    batch = select(TaskLog.id).where(old).limit(limit).scalar_subquery()
    result = await session.execute(
        delete(TaskLog).where(TaskLog.id.in_(batch)).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


class EventRow(NamedTuple):
    correlation_id: str | None
    event: str
    details: dict[str, Any]


async def list_events(
    session: AsyncSession, *, correlation_ids: Sequence[str], events: Iterable[str]
) -> list[EventRow]:
    """The ``(correlation_id, event, details)`` of the rows with one of ``correlation_ids``
    and one of ``events``."""
    query = select(TaskLog.correlation_id, TaskLog.event, TaskLog.details).where(
        TaskLog.correlation_id.in_(list(correlation_ids)), TaskLog.event.in_(list(events))
    )
    return [EventRow(*row) for row in (await session.execute(query)).all()]


async def add_logs(session: AsyncSession, *, logs: Iterable[TaskLog]) -> None:
    """Add ``logs`` to the session: inserted when it flushes."""
    session.add_all(list(logs))


__all__ = [
    "EventRow",
    "add_log",
    "add_logs",
    "delete_logs_before",
    "insert_logs",
    "list_events",
    "list_logs",
]
