"""Artifacts: versions of content per (task, type, name), each chained to the one before.

Newest: the latest ``created_at``, then the highest ``version``; every query here orders
the same way.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.db.models import Artifact

ARTIFACTS: Table = Artifact.__table__  # type: ignore[assignment]


class StoredVersion(NamedTuple):
    """What :func:`insert_next_version` gave the row it inserted."""

    version: int
    parent_id: uuid.UUID | None


async def latest(
    session: AsyncSession, *, task_id: uuid.UUID, artifact_type: str, name: str | None = None
) -> Artifact | None:
    """The newest version of the task's ``artifact_type`` (of that ``name``, if given)."""
    query = select(Artifact).where(
        Artifact.task_id == task_id, Artifact.artifact_type == artifact_type
    )
    if name is not None:
        query = query.where(Artifact.name == name)
    query = query.order_by(Artifact.created_at.desc(), Artifact.version.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def newest_per_key(
    session: AsyncSession, *, task_id: uuid.UUID, types: tuple[str, ...]
) -> dict[tuple[str, str], Artifact]:
    """The newest version of each (type, name) of the task among ``types``, in one query."""
    rows = await session.execute(
        select(Artifact)
        .where(Artifact.task_id == task_id, Artifact.artifact_type.in_(types))
        .order_by(Artifact.created_at.desc(), Artifact.version.desc())
    )
    newest: dict[tuple[str, str], Artifact] = {}
    for row in rows.scalars():
        newest.setdefault((row.artifact_type, row.name), row)
    return newest


async def contents_of_type(
    session: AsyncSession, *, task_id: uuid.UUID, artifact_type: str
) -> list[str]:
    """The content of every version of the task's ``artifact_type``, in no set order."""
    rows = await session.execute(
        select(Artifact.content).where(
            Artifact.task_id == task_id, Artifact.artifact_type == artifact_type
        )
    )
    return list(rows.scalars())


async def for_task(session: AsyncSession, *, task_id: uuid.UUID) -> list[Artifact]:
    """Every version of every artifact of the task, oldest first."""
    rows = await session.execute(
        select(Artifact)
        .where(Artifact.task_id == task_id)
        .order_by(Artifact.created_at, Artifact.version)
    )
    return list(rows.scalars())


def newest_of_key(column: Any, task_id: Any, artifact_type: Any, name: Any) -> Any:
    """``column`` of the newest version of (``task_id``, ``artifact_type``, ``name``), as a
    scalar subquery; each key part a value or an expression (a bound parameter, a column
    of the enclosing query)."""
    return (
        select(column)
        .where(
            ARTIFACTS.c.task_id == task_id,
            ARTIFACTS.c.artifact_type == artifact_type,
            ARTIFACTS.c.name == name,
        )
        .order_by(ARTIFACTS.c.created_at.desc(), ARTIFACTS.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


def _latest_of_key(column: ColumnElement[Any]) -> Any:
    """:func:`newest_of_key` for the key in the parameters ``task_id_``, ``type_``, ``name_``."""
    return newest_of_key(column, bindparam("task_id_"), bindparam("type_"), bindparam("name_"))


def _param(name: str, column: str) -> Any:
    return bindparam(name, type_=ARTIFACTS.c[column].type)


_STORED_COLUMNS = [
    "id", "task_id", "artifact_type", "name", "content", "content_hash", "version",
    "parent_id", "edit_message", "metadata", "created_at",
]  # fmt: skip


def _stored_values(task_id: Any) -> Any:
    """The row :func:`insert_next_version` inserts, as a SELECT of bound parameters: the
    next version of (task, type, name), chained to the newest."""
    return select(
        _param("id_", "id"), task_id, _param("type_", "artifact_type"),
        _param("name_", "name"), _param("content_", "content"), _param("hash_", "content_hash"),
        func.coalesce(_latest_of_key(ARTIFACTS.c.version), 0) + 1,
        _latest_of_key(ARTIFACTS.c.id), _param("edit_", "edit_message"),
        _param("metadata_", "metadata"), _param("at_", "created_at"),
    )  # fmt: skip


def differs_from_newest() -> Any:
    """True unless the newest version of (task, type, name) holds the content ``hash_``."""
    return func.coalesce(_latest_of_key(ARTIFACTS.c.content_hash), "") != bindparam("hash_")


# One statement, built once with bound parameters: the next version of (task, type, name),
# chained to the newest, unless the newest holds the same content (then nothing is
# inserted and no row returned). Every step stores one or two artifacts; this is one round
# trip where a read and an insert were two.
_INSERT_NEXT = (
    ARTIFACTS.insert()
    .from_select(
        _STORED_COLUMNS,
        _stored_values(_param("task_id_", "task_id")).where(differs_from_newest()),
    )
    .returning(ARTIFACTS.c.version, ARTIFACTS.c.parent_id)
)


def params_for(row: Artifact) -> dict[str, Any]:
    """The bound parameters of :data:`_INSERT_NEXT` for ``row``."""
    return {
        "id_": row.id, "task_id_": row.task_id, "type_": row.artifact_type, "name_": row.name,
        "content_": row.content, "hash_": row.content_hash, "edit_": row.edit_message,
        "metadata_": row.metadata_, "at_": row.created_at,
    }  # fmt: skip


async def insert_next_version(session: AsyncSession, *, row: Artifact) -> StoredVersion | None:
    """Insert ``row`` as the next version of its key, unless the newest version holds the
    same content: then nothing is inserted and ``None`` returned."""
    stored = (await session.execute(_INSERT_NEXT, params_for(row))).one_or_none()
    return None if stored is None else StoredVersion(stored.version, stored.parent_id)


async def get(session: AsyncSession, *, artifact_id: uuid.UUID) -> Artifact | None:
    return await session.get(Artifact, artifact_id)


__all__ = [
    "ARTIFACTS",
    "StoredVersion",
    "contents_of_type",
    "differs_from_newest",
    "for_task",
    "get",
    "insert_next_version",
    "latest",
    "newest_of_key",
    "newest_per_key",
    "params_for",
]  # fmt: skip
