"""Prefect artifacts for each run: the final code and outcome, and cost by agent."""

from __future__ import annotations

import asyncio

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from aadap.db.models import ApprovalRequest
from aadap.services.summary import LifecycleSummary


def _key(summary: LifecycleSummary, what: str) -> str:
    return f"aadap-{what}-{summary.task_id[:8]}"


def approval_lines(approval: ApprovalRequest | None) -> list[str]:
    """The approval decision as the report records it: who decided, when, and why."""
    if approval is None:
        return []
    when = "" if approval.decided_at is None else f" at {approval.decided_at:%Y-%m-%d %H:%M} UTC"
    who = f" by {approval.decided_by}{when}" if approval.decided_by else ""
    lines = [
        "",
        "## Approval",
        "",
        f"**Decision:** `{approval.status}`{who} · risk `{approval.risk_level}` · "
        f"operation class `{approval.operation_class}`",
    ]
    if approval.reason:
        lines.append(f"**Comment / reason:** {approval.reason}")
    return lines


def markdown(summary: LifecycleSummary, approval: ApprovalRequest | None = None) -> str:
    lines = [
        f"# {summary.title}",
        "",
        f"**Outcome:** `{summary.state}` · environment `{summary.environment}` · platform `{summary.platform}`",
        f"**Task:** `{summary.task_id}` · tokens {summary.tokens_used} · cost ${summary.cost_usd:.6f} "
        f"· LLM calls {summary.llm_calls}",
    ]
    if summary.error:
        lines += ["", f"**Stopped:** {summary.error}"]
    lines += approval_lines(approval)
    if summary.code:
        lines += ["", "## Code", "", f"```{summary.language or ''}", summary.code, "```"]
    result = summary.result or {}
    if result.get("columns"):
        cols = result["columns"]
        lines += [
            "",
            "## Result preview",
            "",
            "| " + " | ".join(cols) + " |",
            "|" + "---|" * len(cols),
        ]
        for row in result.get("rows", [])[:10]:
            lines.append("| " + " | ".join(str(row.get(c, "")) for c in cols) + " |")
    elif result:
        lines += [
            "",
            "## Result",
            "",
            str(result.get("output") or f"{result.get('rows_affected')} rows affected"),
        ]
    return "\n".join(lines)


async def publish(summary: LifecycleSummary, approval: ApprovalRequest | None = None) -> None:
    """Both artifacts, created concurrently (two independent API calls)."""
    rows = [
        {**entry, "cost_usd": f"{entry['cost_usd']:.8f}"} for entry in summary.cost_by_agent
    ] or [{"agent": "-", "calls": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": "0"}]
    await asyncio.gather(
        acreate_markdown_artifact(
            key=_key(summary, "report"),
            markdown=markdown(summary, approval),
            description=f"{summary.title}: {summary.state}",
        ),
        acreate_table_artifact(
            key=_key(summary, "costs"), table=rows, description="LLM cost by agent"
        ),
    )
