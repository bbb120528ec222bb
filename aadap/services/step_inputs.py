"""What a step reads before it works: the artifacts earlier steps stored, and the context
its agent sees."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from aadap.agents import AgentContext
from aadap.core.enums import ArtifactType, Environment, PlatformKind
from aadap.core.exceptions import TaskNotFoundError
from aadap.db.models import Artifact
from aadap.services import artifacts
from aadap.services.cursor import TaskCursor

M = TypeVar("M", bound=BaseModel)


async def latest(cur: TaskCursor, kind: ArtifactType, name: str) -> Artifact | None:
    """The newest version of the task's artifact ``kind``/``name``, if any."""
    async with cur.rt.db.sessions() as session:
        return await artifacts.latest(session, task_id=cur.task_id, artifact_type=kind, name=name)


async def load(cur: TaskCursor, kind: ArtifactType, name: str, model: type[M]) -> M:
    """The output a finished step stored, as its model; a missing one is an error."""
    row = await latest(cur, kind, name)
    if row is None:
        raise TaskNotFoundError(
            f"task {cur.task_id} is past the step that writes {kind.value}/{name}, but that artifact is missing",
            task_id=str(cur.task_id),
        )
    return model.model_validate_json(row.content)


async def agent_context(cur: TaskCursor, feedback: list[str] | None = None) -> AgentContext:
    """What the agents see. The request's facts never change once the task exists, and
    the local schema only changes when a run deploys, so both are read once per run
    (``Runtime.agent_facts``), not once per step."""
    rt = cur.rt
    base = rt.agent_facts.get(cur.task_id)
    if base is None:
        task = await cur.facts()
        hints: dict[str, list[str]] = {}
        if task.platform == PlatformKind.LOCAL.value and task.connection_id is None:
            hints = await _local_schema_hints(cur)
        base = AgentContext(
            request_text=task.request,
            environment=Environment(task.environment),
            platform=PlatformKind(task.platform),
            working_dir=Path(str(task.metadata_.get("working_dir") or Path.cwd())),
            schema_hints=hints,
            task_id=str(task.id),
            correlation_id=task.correlation_id,
        )
        rt.agent_facts[cur.task_id] = base
    return dataclasses.replace(
        base,
        schema_hints={table: list(cols) for table, cols in base.schema_hints.items()},
        feedback=list(feedback or []),
    )


async def _local_schema_hints(cur: TaskCursor) -> dict[str, list[str]]:
    from aadap.platforms.local import LocalPlatform

    path = cur.rt.local_duckdb_path()
    if not path.exists():
        return {}
    platform = LocalPlatform(path, cur.rt.settings.home / "runs", cur.rt.settings.platforms)
    return await platform.schema()


__all__ = ["agent_context", "latest", "load"]
