"""Versioned artifacts: content, its sha256, and a lineage of versions per (task, type, name)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType
from aadap.db.base import column_values
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


_ARTIFACTS: Table = Artifact.__table__  # type: ignore[assignment]

# Built once with bound parameters: every step stores one or two artifacts, and building
# and keying these statements anew cost about as much CPU as running them.
_PREVIOUS = (
    select(_ARTIFACTS.c.id, _ARTIFACTS.c.version, _ARTIFACTS.c.content_hash)
    .where(
        _ARTIFACTS.c.task_id == bindparam("task_id_"),
        _ARTIFACTS.c.artifact_type == bindparam("type_"),
        _ARTIFACTS.c.name == bindparam("name_"),
    )
    .order_by(_ARTIFACTS.c.created_at.desc(), _ARTIFACTS.c.version.desc())
    .limit(1)
)
_STORE = _ARTIFACTS.insert()


async def save(
    session: AsyncSession,
    *,
    task_id: uuid.UUID,
    artifact_type: ArtifactType,
    name: str,
    content: str,
    edit_message: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Artifact:
    """Store a new version (or return the latest when its content is identical). Does not commit."""
    key = {"task_id_": task_id, "type_": artifact_type.value, "name_": name}
    previous = (await session.execute(_PREVIOUS, key)).one_or_none()
    digest = content_hash(content)
    if previous is not None and previous.content_hash == digest:
        found = await session.get(Artifact, previous.id)
        assert found is not None  # read in this transaction a moment ago
        return found
    row = Artifact(
        id=uuid.uuid4(),
        task_id=task_id,
        artifact_type=artifact_type.value,
        name=name,
        content=content,
        content_hash=digest,
        version=1 if previous is None else previous.version + 1,
        parent_id=None if previous is None else previous.id,
        edit_message=edit_message,
        metadata_=metadata or {},
        created_at=utcnow(),
    )
    await session.execute(_STORE, column_values(row))
    return row


async def for_task(session: AsyncSession, task_id: uuid.UUID) -> list[Artifact]:
    rows = await session.execute(
        select(Artifact)
        .where(Artifact.task_id == task_id)
        .order_by(Artifact.created_at, Artifact.version)
    )
    return list(rows.scalars())
