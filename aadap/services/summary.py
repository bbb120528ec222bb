"""What a finished (or stopped) lifecycle produced, for the CLI and the Prefect artifacts."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from aadap.agents import GeneratedCode
from aadap.core.enums import CostKind
from aadap.db.repos import task_repo
from aadap.db.session import Database
from aadap.db.types import usd_from_e10


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
    #: platform runs with a compute cost row (``AADAP_PLATFORMS_COMPUTE_USD_PER_HOUR``): with
    #: ``llm_calls``, the number of rows in ``cost_by_agent``'s ``calls``
    compute_runs: int = 0
    cost_by_agent: list[dict[str, Any]] = []
    error: str | None = None


async def summarise(db: Database, task_id: uuid.UUID) -> LifecycleSummary:
    """One read: the task with its newest code and result, the last transition's reason
    (reported for a task that failed or was cancelled) and its cost rows."""
    async with db.sessions() as session:
        row = await task_repo.get_summary_row(session, task_id=task_id)
    task, optimised, generated, result, last_reason, cost_rows = row
    code_json = optimised or generated
    code = None if code_json is None else GeneratedCode.model_validate_json(code_json)
    by_agent: dict[str, dict[str, Any]] = {}
    llm_calls = 0
    for agent, kind, tokens_in, tokens_out, cost_usd in cost_rows or []:
        entry = by_agent.setdefault(
            agent,
            {
                "agent": agent,
                "kind": kind,
                "calls": 0,
                "tokens_in": 0,
                "tokens_out": 0,
                "cost_usd": Decimal(0),
            },
        )
        entry["calls"] += 1
        entry["tokens_in"] += tokens_in
        entry["tokens_out"] += tokens_out
        entry["cost_usd"] += usd_from_e10(cost_usd)
        llm_calls += kind == CostKind.LLM.value
        if entry["kind"] != kind:  # one agent with both kinds of row (none does today)
            entry["kind"] = "mixed"
    error = last_reason if task.current_state in ("FAILED", "CANCELLED") else None
    return LifecycleSummary(
        task_id=str(task.id),
        title=task.title,
        state=task.current_state,
        environment=task.environment,
        platform=task.platform,
        flow_run_id=task.flow_run_id,
        code=None if code is None else code.code,
        language=None if code is None else code.language.value,
        result=None if result is None else json.loads(result),
        tokens_used=task.tokens_used,
        cost_usd=task.cost_usd,
        llm_calls=llm_calls,
        compute_runs=len(cost_rows or []) - llm_calls,
        cost_by_agent=sorted(by_agent.values(), key=lambda e: str(e["agent"])),
        error=error,
    )
