"""The developer agent: requirement, plan and route → :class:`GeneratedCode`."""

from __future__ import annotations

from aadap.agents._prompt_inputs import common_values, render_model
from aadap.agents.schemas import GeneratedCode, Plan, Requirement, Route
from aadap.agents.self_correction import AgentContext, run_agent
from aadap.core.enums import AgentType, Language
from aadap.llm.messages import LLMClient

_FAMILIES: tuple[frozenset[Language], ...] = (
    frozenset({Language.SQL}),
    frozenset({Language.PYTHON, Language.PYSPARK}),
    frozenset({Language.SCALA}),
)


def same_family(a: Language, b: Language) -> bool:
    """Whether code in ``a`` can stand where ``b`` was asked for (PySpark is Python)."""
    return any(a in family and b in family for family in _FAMILIES)


async def develop_code(
    client: LLMClient, ctx: AgentContext, requirement: Requirement, plan: Plan, route: Route
) -> GeneratedCode:
    """Write the code; ``ctx.feedback`` carries findings from a failed validation round."""

    def check(code: GeneratedCode) -> list[str]:
        if same_family(code.language, route.language):
            return []
        return [f"language: the route asks for {route.language} code, not {code.language}"]

    return await run_agent(
        client,
        ctx,
        agent=AgentType.DEVELOPER,
        output=GeneratedCode,
        task_values={
            **common_values(ctx),
            "requirement": render_model(requirement),
            "plan": render_model(plan),
            "route": render_model(route),
        },
        check=check,
    )
