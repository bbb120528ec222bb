"""The router agent: which developer kind and language implement the plan.

Clear cases are decided by rules, without an LLM call (deterministic and free):
the local DuckDB platform always gets SQL; reads and given statements (run_sql,
list_tables, preview, profile) are SQL everywhere; an explicit language the platform
supports is honoured. Only the remaining cases ask the LLM, whose answer must name
a language the platform runs and that fits the developer kind.
"""

from __future__ import annotations

from aadap.agents._prompt_inputs import common_values, render_model
from aadap.agents.schemas import Plan, Requirement, Route
from aadap.agents.self_correction import AgentContext, run_agent
from aadap.core.enums import AgentType, Language, PlatformKind
from aadap.llm.messages import LLMClient

PLATFORM_LANGUAGES: dict[PlatformKind, frozenset[Language]] = {
    PlatformKind.LOCAL: frozenset({Language.SQL, Language.PYTHON}),
    PlatformKind.DATABRICKS: frozenset(Language),
    PlatformKind.FABRIC: frozenset(Language),
}
DEVELOPER_LANGUAGES: dict[str, frozenset[Language]] = {
    "sql": frozenset({Language.SQL}),
    "pyspark": frozenset({Language.PYSPARK, Language.PYTHON}),
    "ingestion": frozenset(Language),
    "pipeline": frozenset(Language),
}
_SQL_INTENTS = frozenset({"run_sql", "list_tables", "preview", "profile"})


def rule_route(ctx: AgentContext, requirement: Requirement) -> Route | None:
    """The deterministic route for a clear case, or ``None`` when the LLM must decide."""
    if ctx.platform is PlatformKind.LOCAL:
        reason = "The local DuckDB engine runs SQL, and SQL expresses this work directly."
        if requirement.language not in (None, Language.SQL):
            reason += f" The requested {requirement.language} is not used on the local engine."
        return Route(developer="sql", language=Language.SQL, reason=reason)
    if requirement.intent in _SQL_INTENTS:
        return Route(
            developer="sql",
            language=Language.SQL,
            reason=f"A {requirement.intent.replace('_', ' ')} request is a single SQL statement.",
        )
    if requirement.language is Language.SQL:
        return Route(developer="sql", language=Language.SQL, reason="The user asked for SQL.")
    if requirement.language in (Language.PYSPARK, Language.PYTHON):
        return Route(
            developer="pyspark",
            language=requirement.language,
            reason=f"The user asked for {requirement.language}.",
        )
    return None


def route_problems(route: Route, platform: PlatformKind) -> list[str]:
    problems = []
    if route.language not in PLATFORM_LANGUAGES[platform]:
        allowed = ", ".join(sorted(PLATFORM_LANGUAGES[platform]))
        problems.append(
            f"language: {route.language} does not run on the {platform} platform"
            f" (use one of {allowed})"
        )
    if route.language not in DEVELOPER_LANGUAGES[route.developer]:
        allowed = ", ".join(sorted(DEVELOPER_LANGUAGES[route.developer]))
        problems.append(
            f"language: the {route.developer!r} developer writes {allowed}, not {route.language}"
        )
    return problems


async def route_work(
    client: LLMClient, ctx: AgentContext, requirement: Requirement, plan: Plan
) -> Route:
    """Pick the developer kind and language: by rule when clear, else by the LLM."""
    decided = rule_route(ctx, requirement)
    if decided is not None:
        return decided
    return await run_agent(
        client,
        ctx,
        agent=AgentType.ROUTER,
        output=Route,
        task_values={
            **common_values(ctx),
            "requirement": render_model(requirement),
            "plan": render_model(plan),
        },
        check=lambda route: route_problems(route, ctx.platform),
    )
