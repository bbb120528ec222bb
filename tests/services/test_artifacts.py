"""Versioned artifacts on both databases: each new content is the next version, linked to
the one before; storing the same content again stores nothing."""

from __future__ import annotations

from sqlalchemy import select

from aadap.core.enums import ArtifactType
from aadap.db import models
from aadap.db.session import Database
from aadap.services import artifacts
from tests import builders


async def test_versions_chain_and_identical_content_is_not_stored_twice(db: Database) -> None:
    async with db.transaction() as session:
        task = builders.task()
        session.add(task)

    async def save(content: str, name: str = "code") -> models.Artifact:
        async with db.transaction() as session:
            return await artifacts.store(
                session,
                artifacts.new_row(
                    task_id=task.id,
                    artifact_type=ArtifactType.GENERATED_CODE,
                    name=name,
                    content=content,
                    metadata={"language": "sql"},
                ),
            )

    first = await save("SELECT 1")
    second = await save("SELECT 2")
    again = await save("SELECT 2")
    other = await save("SELECT 1", name="other")

    assert (first.version, first.parent_id) == (1, None)
    assert (second.version, second.parent_id) == (2, first.id)
    assert again.id == second.id  # the same content: the latest version, not a third
    assert (other.version, other.parent_id) == (1, None)  # versions count per name
    async with db.sessions() as session:
        stored = list(
            (
                await session.execute(
                    select(models.Artifact).order_by(models.Artifact.name, models.Artifact.version)
                )
            ).scalars()
        )
    assert [(a.name, a.version, a.content) for a in stored] == [
        ("code", 1, "SELECT 1"),
        ("code", 2, "SELECT 2"),
        ("other", 1, "SELECT 1"),
    ]
    assert stored[1].content_hash == artifacts.content_hash("SELECT 2")
    assert stored[1].metadata_ == {"language": "sql"}
    latest = await _latest(db, task.id)
    assert latest is not None and latest.id == second.id


async def _latest(db: Database, task_id: object) -> models.Artifact | None:
    async with db.sessions() as session:
        return await artifacts.latest(
            session, task_id=task_id, artifact_type=ArtifactType.GENERATED_CODE, name="code"
        )  # type: ignore[arg-type]
