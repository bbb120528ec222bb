"""Versioned artifacts: content, its sha256, and a lineage of versions per (task, type, name)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType
from aadap.db.models import Artifact


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
    previous = await latest(session, task_id=task_id, artifact_type=artifact_type, name=name)
    digest = content_hash(content)
    if previous is not None and previous.content_hash == digest:
        return previous
    row = Artifact(
        task_id=task_id,
        artifact_type=artifact_type.value,
        name=name,
        content=content,
        content_hash=digest,
        version=1 if previous is None else previous.version + 1,
        parent_id=None if previous is None else previous.id,
        edit_message=edit_message,
        metadata_=metadata or {},
    )
    session.add(row)
    await session.flush()
    return row


async def for_task(session: AsyncSession, task_id: uuid.UUID) -> list[Artifact]:
    rows = await session.execute(
        select(Artifact)
        .where(Artifact.task_id == task_id)
        .order_by(Artifact.created_at, Artifact.version)
    )
    return list(rows.scalars())
