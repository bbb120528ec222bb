"""An ``LLMClient`` wrapper that enforces budgets and makes every call durable."""

from __future__ import annotations

from aadap.db.session import Database
from aadap.llm.types import Completion, LLMClient, LLMRequest
from aadap.services import budget, context, costs


def estimate_prompt_tokens(request: LLMRequest) -> int:
    return sum(len(m.content) for m in request.messages) // 4 + 1


class MeteredLLMClient:
    """Checks the task's budgets before each call, records the call the moment it
    returns (a committed ``pending`` cost row plus the task's totals), then checks
    the budgets again so an overspend stops the run at once."""

    def __init__(self, inner: LLMClient, db: Database) -> None:
        self.inner = inner
        self.db = db
        self.provider = inner.provider

    def model_for(self, agent: str) -> str:
        return self.inner.model_for(agent)

    async def complete(self, request: LLMRequest) -> Completion:
        ctx = context.current()
        if ctx is not None:
            await self._check(
                ctx, upcoming_tokens=estimate_prompt_tokens(request), agent=request.agent
            )
        completion = await self.inner.complete(request)
        await costs.record_llm_call(self.db, ctx=ctx, agent=request.agent, completion=completion)
        if ctx is not None:
            await self._check(ctx, agent=request.agent)
        return completion

    async def _check(
        self, ctx: context.RunContext, *, agent: str, upcoming_tokens: int = 0
    ) -> None:
        """Against the run's view of the spend (kept current by every cost write), or the
        database's figures outside a lifecycle run."""
        if ctx.spend is not None:
            budget.check_spend(
                ctx.spend, task_id=ctx.task_id, correlation_id=ctx.correlation_id,
                upcoming_tokens=upcoming_tokens, agent=agent,
            )  # fmt: skip
            return
        async with self.db.sessions() as session:
            await budget.check(session, ctx.task_id, upcoming_tokens=upcoming_tokens, agent=agent)
