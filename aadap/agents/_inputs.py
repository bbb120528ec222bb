"""Rendering of structured inputs for the TASK section of a prompt."""

from __future__ import annotations

from pydantic import BaseModel

from aadap.agents._prompt import as_json
from aadap.agents.base import AgentContext


def render_model(model: BaseModel) -> str:
    return as_json(model.model_dump(mode="json"))


def render_hints(ctx: AgentContext) -> str:
    if not ctx.schema_hints:
        return "(none known)"
    return "\n".join(
        f"- {table}: {', '.join(columns) if columns else '(columns unknown)'}"
        for table, columns in sorted(ctx.schema_hints.items())
    )


def render_feedback(ctx: AgentContext) -> str:
    if not ctx.feedback:
        return "(none)"
    return "\n".join(f"- {item}" for item in ctx.feedback)


def common_values(ctx: AgentContext) -> dict[str, str]:
    return {
        "platform": ctx.platform.value,
        "environment": ctx.environment.value,
        "working_dir": str(ctx.working_dir),
        "schema_hints": render_hints(ctx),
        "feedback": render_feedback(ctx),
        "request_text": ctx.request_text,
    }
