"""The parser agent: request text → :class:`Requirement`."""

from __future__ import annotations

from aadap.agents._prompt_inputs import common_values
from aadap.agents.schemas import Requirement
from aadap.agents.self_correction import AgentContext, run_agent
from aadap.core.enums import AgentType
from aadap.core.exceptions import InvalidRequestError
from aadap.llm.messages import LLMClient


async def parse_request(client: LLMClient, ctx: AgentContext) -> Requirement:
    """Understand ``ctx.request_text`` as a structured requirement.

    An empty request is the caller's mistake, not a question for the LLM: it raises
    :class:`InvalidRequestError` without calling the client.
    """
    if not ctx.request_text.strip():
        raise InvalidRequestError(
            "the request text is empty",
            task_id=ctx.task_id,
            correlation_id=ctx.correlation_id,
            details={"field": "request_text"},
        )
    return await run_agent(
        client,
        ctx,
        agent=AgentType.PARSER,
        output=Requirement,
        task_values=common_values(ctx),
    )
