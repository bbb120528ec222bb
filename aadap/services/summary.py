"""What a finished (or stopped) lifecycle produced, for the CLI and the Prefect artifacts."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from aadap.agents import GeneratedCode
from aadap.core.enums import ArtifactType, CostKind
from aadap.db.models import CostRecord, StateTransition, Task
from aadap.db.session import Database
from aadap.services import artifacts


class LifecycleSummary(BaseModel):
    task_id: str
    title: str
    state: str
    environment: str
    platform: str
    flow_run_id: str | None = None
    code: str | None = None
    language: str | None = None
    result: dict[str, Any] | None = None
    tokens_used: int = 0
    cost_usd: Decimal = Decimal(0)
    llm_calls: int = 0
    cost_by_agent: list[dict[str, Any]] = []
    error: str | None = None


_SUMMARISED = (
    ArtifactType.OPTIMIZED_CODE.value,
    ArtifactType.GENERATED_CODE.value,
    ArtifactType.EXECUTION_RESULT.value,
)


async def summarise(db: Database, task_id: uuid.UUID) -> LifecycleSummary:
    """Three reads: the task, the newest code and result (one query), the cost rows; and
    the last transition's reason only for a task that failed or was cancelled."""
    async with db.sessions() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        newest = await artifacts.newest_of(session, task_id=task_id, types=_SUMMARISED)
        code_row = newest.get((ArtifactType.OPTIMIZED_CODE.value, "code")) or newest.get(
            (ArtifactType.GENERATED_CODE.value, "code")
        )
        result_row = newest.get((ArtifactType.EXECUTION_RESULT.value, "result"))
        cost_rows = list(
            (
                await session.execute(select(CostRecord).where(CostRecord.task_id == task_id))
            ).scalars()
        )
        last = None
        if task.current_state in ("FAILED", "CANCELLED"):
            last = (
                await session.execute(
                    select(StateTransition)
                    .where(StateTransition.task_id == task_id)
                    .order_by(StateTransition.sequence_num.desc())
                    .limit(1)
                )
            ).scalar_one_or_none()
    code = None if code_row is None else GeneratedCode.model_validate_json(code_row.content)
    by_agent: dict[str, dict[str, Any]] = {}
    for row in cost_rows:
        entry = by_agent.setdefault(
            row.agent_type,
            {
                "agent": row.agent_type,
                "calls": 0,
                "tokens_in": 0,
                "tokens_out": 0,
                "cost_usd": Decimal(0),
            },
        )
        entry["calls"] += 1
        entry["tokens_in"] += row.tokens_in
        entry["tokens_out"] += row.tokens_out
        entry["cost_usd"] += row.cost_usd or Decimal(0)
    error = None if last is None else last.reason
    return LifecycleSummary(
        task_id=str(task.id),
        title=task.title,
        state=task.current_state,
        environment=task.environment,
        platform=task.platform,
        flow_run_id=task.flow_run_id,
        code=None if code is None else code.code,
        language=None if code is None else code.language.value,
        result=None if result_row is None else json.loads(result_row.content),
        tokens_used=task.tokens_used,
        cost_usd=task.cost_usd,
        llm_calls=sum(1 for r in cost_rows if r.kind == CostKind.LLM.value),
        cost_by_agent=sorted(by_agent.values(), key=lambda e: str(e["agent"])),
        error=error,
    )
