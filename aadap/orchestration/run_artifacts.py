"""Prefect artifacts for each run: the final code and outcome, and cost by agent."""

from __future__ import annotations

import asyncio

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from aadap.db.models import ApprovalRequest
from aadap.services.reports import usd
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
        # a request still waiting holds policy's reason; a decided one, the reviewer's comment
        label = (
            "Why it waits for a reviewer" if approval.status == "PENDING" else "Comment / reason"
        )
        lines.append(f"**{label}:** {approval.reason}")
    return lines


def cost_lines(summary: LifecycleSummary) -> list[str]:
    """The cost table's details: tokens in and out per agent, and what a row counts."""
    lines = [
        "",
        "## Cost by agent",
        "",
        "One row per agent: `llm` rows count LLM calls, the `compute` row counts platform "
        f"runs priced by `AADAP_PLATFORMS_COMPUTE_USD_PER_HOUR` ({summary.llm_calls} LLM calls"
        f" + {summary.compute_runs} compute runs = the {sum(e['calls'] for e in summary.cost_by_agent)}"
        " of the table).",
        "",
        "| agent | kind | calls | tokens in | tokens out | cost |",
        "|---|---|--:|--:|--:|--:|",
    ]
    for e in summary.cost_by_agent:
        lines.append(
            f"| {e['agent']} | {e['kind']} | {e['calls']} | {e['tokens_in']} | {e['tokens_out']} "
            f"| {usd(e['cost_usd'])} |"
        )
    return lines


def cost_table(summary: LifecycleSummary) -> list[dict[str, object]]:
    """The table artifact: five narrow columns that fit a 1,440 px screen (tokens in and
    out are in the report's markdown)."""
    return [
        {
            "agent": e["agent"],
            "kind": e["kind"],
            "calls": e["calls"],
            "tokens": e["tokens_in"] + e["tokens_out"],
            "cost": usd(e["cost_usd"]),
        }
        for e in summary.cost_by_agent
    ] or [{"agent": "-", "kind": "-", "calls": 0, "tokens": 0, "cost": "$0.00"}]


def markdown(summary: LifecycleSummary, approval: ApprovalRequest | None = None) -> str:
    lines = [
        f"# {summary.title}",
        "",
        f"**Outcome:** `{summary.state}` · environment `{summary.environment}` · platform `{summary.platform}`",
        f"**Task:** `{summary.task_id}` · tokens {summary.tokens_used} · cost {usd(summary.cost_usd)} "
        f"· LLM calls {summary.llm_calls}"
        + (f" · compute runs {summary.compute_runs}" if summary.compute_runs else ""),
    ]
    if summary.error:
        lines += ["", f"**Stopped:** {summary.error}"]
    lines += approval_lines(approval)
    if summary.cost_by_agent:
        lines += cost_lines(summary)
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
    await asyncio.gather(
        acreate_markdown_artifact(
            key=_key(summary, "report"),
            markdown=markdown(summary, approval),
            description=f"{summary.title}: {summary.state}",
        ),
        acreate_table_artifact(
            key=_key(summary, "costs"),
            table=cost_table(summary),
            description=f"Cost by agent: {summary.llm_calls} LLM calls"
            + (f", {summary.compute_runs} compute runs" if summary.compute_runs else ""),
        ),
    )
