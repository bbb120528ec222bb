"""The reviewer agent: an LLM review merged with a deterministic syntax check.

The LLM cannot pass code that does not parse: a syntax error becomes an ``error``
finding with ``source="syntax"``, and any error or critical finding fails the review.
"""

from __future__ import annotations

from aadap.agents._prompt_inputs import common_values, render_model, render_syntax
from aadap.agents.schemas import (
    BLOCKING_SEVERITIES,
    Finding,
    GeneratedCode,
    Requirement,
    Review,
    ReviewDraft,
)
from aadap.agents.self_correction import AgentContext, run_agent
from aadap.agents.syntax import SyntaxReport, check_syntax
from aadap.core.enums import AgentType
from aadap.llm.messages import LLMClient


def syntax_findings(report: SyntaxReport) -> list[Finding]:
    if not report.checked:
        return [
            Finding(
                severity="info",
                message=f"no syntax checker for {report.language}; syntax was not verified",
                source="syntax",
            )
        ]
    return [
        Finding(severity="error", message=issue.message, line=issue.line, source="syntax")
        for issue in report.issues
    ]


def merge_review(draft: ReviewDraft, report: SyntaxReport) -> Review:
    """Combine the LLM's verdict with the syntax check; the stricter one wins."""
    findings = syntax_findings(report) + [
        Finding(severity=f.severity, message=f.message, line=f.line, source="llm")
        for f in draft.findings
    ]
    blocking = [f for f in findings if f.severity in BLOCKING_SEVERITIES]
    passed = draft.passed and not blocking
    summary = draft.summary
    if not report.ok:
        summary = f"Syntax check failed ({len(report.issues)} issue(s)). {summary}"
    elif draft.passed and blocking:
        summary = f"Failed: {len(blocking)} error/critical finding(s). {summary}"
    return Review(passed=passed, findings=findings, summary=summary)


async def review_code(
    client: LLMClient, ctx: AgentContext, requirement: Requirement, code: GeneratedCode
) -> Review:
    """Review ``code`` against ``requirement`` on ``ctx.platform``."""
    report = check_syntax(code.code, code.language, ctx.platform)
    draft = await run_agent(
        client,
        ctx,
        agent=AgentType.REVIEWER,
        output=ReviewDraft,
        task_values={
            **common_values(ctx),
            "requirement": render_model(requirement),
            "code": code.code,
            "language": code.language.value,
            "syntax": render_syntax(report),
        },
    )
    return merge_review(draft, report)
