"""Rendering of structured inputs for the TASK section of a prompt, and reading them back.

Each ``render_*`` has its ``read_*`` inverse beside it: the offline rules
(:mod:`aadap.agents.offline`) get only the prompt, as a real model does, and read their
facts from it. Keep each pair exact when changing either.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from aadap.agents._prompt import as_json
from aadap.agents.self_correction import AgentContext
from aadap.agents.syntax import SyntaxReport

_NO_HINTS = "(none known)"
_NO_COLUMNS = "(columns unknown)"
_NO_FEEDBACK = "(none)"
_ISSUES = "issues: "


def render_model(model: BaseModel) -> str:
    return as_json(model.model_dump(mode="json"))


def read_model(text: str) -> Any:
    """The JSON :func:`render_model` wrote (validate it with the model)."""
    return json.loads(text)


def render_hints(ctx: AgentContext) -> str:
    """One line per table, in the caller's order (the catalog's)."""
    if not ctx.schema_hints:
        return _NO_HINTS
    return "\n".join(
        f"- {table}: {', '.join(columns) if columns else _NO_COLUMNS}"
        for table, columns in ctx.schema_hints.items()
    )


def read_hints(text: str) -> dict[str, list[str]]:
    """The hints :func:`render_hints` wrote (a column name holding ", " cannot round-trip)."""
    if text == _NO_HINTS:
        return {}
    hints: dict[str, list[str]] = {}
    for line in text.splitlines():
        table, _, columns = line.removeprefix("- ").partition(": ")
        hints[table] = [] if columns == _NO_COLUMNS else columns.split(", ")
    return hints


def render_feedback(ctx: AgentContext) -> str:
    """One ``- item`` per point; an item's further lines are indented by two spaces."""
    if not ctx.feedback:
        return _NO_FEEDBACK
    return "\n".join("- " + item.replace("\n", "\n  ") for item in ctx.feedback)


def read_feedback(text: str) -> list[str]:
    """The items :func:`render_feedback` wrote, exactly."""
    if text == _NO_FEEDBACK:
        return []
    items: list[str] = []
    for line in text.split("\n"):
        if line.startswith("- ") or not items:
            items.append(line.removeprefix("- "))
        else:
            items[-1] += "\n" + line.removeprefix("  ")
    return items


def render_syntax(report: SyntaxReport) -> str:
    """The deterministic syntax check's result: its issues as a JSON list, or why not run."""
    if not report.checked:
        return f"not run: no syntax checker for {report.language}"
    return _ISSUES + json.dumps([issue.message for issue in report.issues])


def read_syntax(text: str) -> list[str]:
    """The issue messages :func:`render_syntax` wrote (none when the check did not run)."""
    return (
        [str(item) for item in json.loads(text.removeprefix(_ISSUES))]
        if text.startswith(_ISSUES)
        else []
    )


def common_values(ctx: AgentContext) -> dict[str, str]:
    return {
        "platform": ctx.platform.value,
        "environment": ctx.environment.value,
        "working_dir": str(ctx.working_dir),
        "schema_hints": render_hints(ctx),
        "feedback": render_feedback(ctx),
        "request_text": ctx.request_text,
    }
