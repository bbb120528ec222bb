"""Versioned artifacts: content, its sha256, and a lineage of versions per (task, type, name)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.enums import ArtifactType
from aadap.core.ids import new_id
from aadap.db.models import Artifact
from aadap.db.repos import artifact_repo
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
    return await artifact_repo.latest(
        session, task_id=task_id, artifact_type=artifact_type.value, name=name
    )


async def newest_of(
    session: AsyncSession, *, task_id: uuid.UUID, types: tuple[str, ...]
) -> dict[tuple[str, str], Artifact]:
    """The newest version of each (type, name) of the task among ``types``, in one query
    (what :func:`latest` returns for each key, ordered the same way)."""
    return await artifact_repo.newest_per_key(session, task_id=task_id, types=types)


# the SQL builders of the artifact repository, under the names they had here
newest_of_key = artifact_repo.newest_of_key
differs_from_newest = artifact_repo.differs_from_newest
params_for = artifact_repo.params_for


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
    stored = await artifact_repo.insert_next_version(session, row=row)
    if stored is None:  # the newest version holds this content already
        found = await latest(
            session,
            task_id=row.task_id,
            artifact_type=ArtifactType(row.artifact_type),
            name=row.name,
        )
        assert found is not None  # it is why nothing was inserted, in this transaction
        return found
    row.version, row.parent_id = stored.version, stored.parent_id
    return row


async def for_task(session: AsyncSession, task_id: uuid.UUID) -> list[Artifact]:
    return await artifact_repo.for_task(session, task_id=task_id)
