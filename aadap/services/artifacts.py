"""Versioned artifacts: content, its sha256, and a lineage of versions per (task, type, name)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Table, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType
from aadap.core.ids import new_id
from aadap.db.models import Artifact
from aadap.db.types import utcnow


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


async def latest(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    artifact_type: ArtifactType,
    name: str | None = None,
) -> Artifact | None:
    query = select(Artifact).where(
        Artifact.task_id == task_id, Artifact.artifact_type == artifact_type.value
    )
    if name is not None:
        query = query.where(Artifact.name == name)
    query = query.order_by(Artifact.created_at.desc(), Artifact.version.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def newest_of(
    session: AsyncSession, *, task_id: uuid.UUID, types: tuple[str, ...]
) -> dict[tuple[str, str], Artifact]:
    """The newest version of each (type, name) of the task among ``types``, in one query
    (what :func:`latest` returns for each key, ordered the same way)."""
    rows = await session.execute(
        select(Artifact)
        .where(Artifact.task_id == task_id, Artifact.artifact_type.in_(types))
        .order_by(Artifact.created_at.desc(), Artifact.version.desc())
    )
    newest: dict[tuple[str, str], Artifact] = {}
    for row in rows.scalars():
        newest.setdefault((row.artifact_type, row.name), row)
    return newest


_ARTIFACTS: Table = Artifact.__table__  # type: ignore[assignment]


def newest_of_key(column: Any, task_id: Any, artifact_type: Any, name: Any) -> Any:
    """``column`` of the newest version of (``task_id``, ``artifact_type``, ``name``), as a
    scalar subquery; each key part a value or an expression (a bound parameter, a column
    of the enclosing query). Newest: as :func:`latest` orders."""
    return (
        select(column)
        .where(
            _ARTIFACTS.c.task_id == task_id,
            _ARTIFACTS.c.artifact_type == artifact_type,
            _ARTIFACTS.c.name == name,
        )
        .order_by(_ARTIFACTS.c.created_at.desc(), _ARTIFACTS.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )


def _latest_of_key(column: ColumnElement[Any]) -> Any:
    """:func:`newest_of_key` for the key in the parameters ``task_id_``, ``type_``, ``name_``."""
    return newest_of_key(column, bindparam("task_id_"), bindparam("type_"), bindparam("name_"))


def _param(name: str, column: str) -> Any:
    return bindparam(name, type_=_ARTIFACTS.c[column].type)


_STORED_COLUMNS = [
    "id", "task_id", "artifact_type", "name", "content", "content_hash", "version",
    "parent_id", "edit_message", "metadata", "created_at",
]  # fmt: skip


def _stored_values(task_id: Any) -> Any:
    """The row :func:`store` inserts, as a SELECT of bound parameters: the next version of
    (task, type, name), chained to the newest."""
    return select(
        _param("id_", "id"), task_id, _param("type_", "artifact_type"),
        _param("name_", "name"), _param("content_", "content"), _param("hash_", "content_hash"),
        func.coalesce(_latest_of_key(_ARTIFACTS.c.version), 0) + 1,
        _latest_of_key(_ARTIFACTS.c.id), _param("edit_", "edit_message"),
        _param("metadata_", "metadata"), _param("at_", "created_at"),
    )  # fmt: skip


def differs_from_newest() -> Any:
    """True unless the newest version of (task, type, name) holds the content ``hash_``."""
    return func.coalesce(_latest_of_key(_ARTIFACTS.c.content_hash), "") != bindparam("hash_")


# One statement, built once with bound parameters: the next version of (task, type, name),
# chained to the newest, unless the newest holds the same content (then nothing is
# inserted and no row returned). Every step stores one or two artifacts; this is one round
# trip where a read and an insert were two.
_STORE = (
    _ARTIFACTS.insert()
    .from_select(
        _STORED_COLUMNS,
        _stored_values(_param("task_id_", "task_id")).where(differs_from_newest()),
    )
    .returning(_ARTIFACTS.c.version, _ARTIFACTS.c.parent_id)
)


def params_for(row: Artifact) -> dict[str, Any]:
    """The bound parameters of :data:`_STORE` for ``row``."""
    return {
        "id_": row.id, "task_id_": row.task_id, "type_": row.artifact_type, "name_": row.name,
        "content_": row.content, "hash_": row.content_hash, "edit_": row.edit_message,
        "metadata_": row.metadata_, "at_": row.created_at,
    }  # fmt: skip


def new_row(
    *,
    task_id: uuid.UUID,
    artifact_type: ArtifactType,
    name: str,
    content: str,
    edit_message: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Artifact:
    """The row to store, before its version is known."""
    return Artifact(
        id=new_id(),
        task_id=task_id,
        artifact_type=artifact_type.value,
        name=name,
        content=content,
        content_hash=content_hash(content),
        edit_message=edit_message,
        metadata_=metadata or {},
        created_at=utcnow(),
    )


async def store(session: AsyncSession, row: Artifact) -> Artifact:
    """Store ``row`` (:func:`new_row`) as the next version, or return the latest when it
    holds the same content. Does not commit."""
    stored = (await session.execute(_STORE, params_for(row))).one_or_none()
    if stored is None:  # the newest version holds this content already
        found = await latest(
            session,
            task_id=row.task_id,
            artifact_type=ArtifactType(row.artifact_type),
            name=row.name,
        )
        assert found is not None  # it is why nothing was inserted, in this transaction
        return found
    row.version, row.parent_id = stored
    return row


async def for_task(session: AsyncSession, task_id: uuid.UUID) -> list[Artifact]:
    rows = await session.execute(
        select(Artifact)
        .where(Artifact.task_id == task_id)
        .order_by(Artifact.created_at, Artifact.version)
    )
    return list(rows.scalars())
