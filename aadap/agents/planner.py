"""The planner agent: :class:`Requirement` → :class:`Plan`."""

from __future__ import annotations

from aadap.agents._prompt_inputs import common_values, render_model
from aadap.agents.schemas import Plan, Requirement
from aadap.agents.self_correction import AgentContext, run_agent
from aadap.core.enums import AgentType
from aadap.llm.messages import LLMClient


async def plan_work(client: LLMClient, ctx: AgentContext, requirement: Requirement) -> Plan:
    """Break the requirement into ordered steps and decide whether optimising pays off."""
    return await run_agent(
        client,
        ctx,
        agent=AgentType.PLANNER,
        output=Plan,
        task_values={**common_values(ctx), "requirement": render_model(requirement)},
    )
