"""The optimiser agent: same semantics, better code, never broken code.

When the plan says optimisation is not worth it, no LLM call is made. The LLM's
code must pass the same syntax check as the original; otherwise the original is
kept and ``reverted_reason`` says why.
"""

from __future__ import annotations

from aadap.agents._prompt_inputs import common_values, render_model
from aadap.agents.schemas import GeneratedCode, Optimisation, OptimisationDraft, Plan
from aadap.agents.self_correction import AgentContext, run_agent
from aadap.agents.syntax import check_syntax
from aadap.core.enums import AgentType
from aadap.llm.messages import LLMClient


async def optimise_code(
    client: LLMClient, ctx: AgentContext, plan: Plan, code: GeneratedCode
) -> Optimisation:
    """Ask for an optimised version of ``code``; keep the original if it would break."""
    if not plan.optimise:
        return Optimisation(
            code=code.code,
            changed=False,
            expected_improvement="none: the plan judged optimisation not worth it"
            f" ({plan.rationale})",
        )
    draft = await run_agent(
        client,
        ctx,
        agent=AgentType.OPTIMISER,
        output=OptimisationDraft,
        task_values={
            **common_values(ctx),
            "plan": render_model(plan),
            "code": code.code,
            "language": code.language.value,
        },
    )
    report = check_syntax(draft.code, code.language, ctx.platform)
    if not report.ok:
        problems = "; ".join(issue.message for issue in report.issues)
        return Optimisation(
            code=code.code,
            changed=False,
            expected_improvement="none: the optimised code was discarded",
            reverted_reason=f"the optimised code failed the syntax check ({problems});"
            " the original code is kept",
        )
    changed = draft.code.strip() != code.code.strip()
    return Optimisation(
        code=draft.code if changed else code.code,
        changed=changed,
        changes=list(draft.changes) if changed else [],
        expected_improvement=draft.expected_improvement,
    )
