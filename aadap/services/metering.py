"""An ``LLMClient`` wrapper that enforces budgets and makes every call durable."""

from __future__ import annotations

from dataclasses import replace

from aadap.core.enums import LogLevel
from aadap.core.exceptions import UnpricedModelError
from aadap.db.session import Database
from aadap.llm.messages import Completion, LLMClient, LLMRequest, RetryEvent, RetryHook
from aadap.llm.pricing import unpriced_advice
from aadap.services import budget, context, costs, logs, progress


def estimate_prompt_tokens(request: LLMRequest) -> int:
    return sum(len(m.content) for m in request.messages) // 4 + 1


class MeteredLLMClient:
    """Checks the task's budgets before each call, records the call the moment it
    returns (a committed ``pending`` cost row plus the task's totals), then checks
    the budgets again so an overspend stops the run at once. Each retry the client
    makes inside a call leaves a WARNING ``llm.retry`` row in ``task_logs``."""

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
            request = replace(request, on_retry=self._retry_logger(ctx, request.agent))
        completion = await self.inner.complete(request)
        await costs.record_llm_call(self.db, ctx=ctx, agent=request.agent, completion=completion)
        progress.tell(LogLevel.INFO, describe_call(request.agent, completion))
        if ctx is not None:
            try:
                await self._check(ctx, agent=request.agent)
            except UnpricedModelError as exc:
                if completion.usage.priced:
                    raise  # an earlier call was the unpriced one
                raise _unpriced(completion, ctx, request.agent) from exc
        return completion

    def _retry_logger(self, ctx: context.RunContext, agent: str) -> RetryHook:
        async def log_retry(event: RetryEvent) -> None:
            status = "no HTTP status" if event.status is None else f"HTTP {event.status}"
            asked = (
                ""
                if event.hint_seconds is None
                else f"; the endpoint asked for {event.hint_seconds:g}s ({event.hint_header})"
            )
            message = (
                f"LLM call of {agent} failed on attempt {event.attempt} of "
                f"{event.max_attempts} ({event.error_code}, {status}); retrying in "
                f"{event.wait_seconds:g}s{asked}"
            )
            row = logs.entry(
                level=LogLevel.WARNING, event="llm.retry", message=message, source=f"llm:{agent}",
                task_run_id=ctx.task_run_id, attempt=ctx.attempt,
                details={"agent": agent, **event.as_dict()},
            )  # fmt: skip
            await logs.write(self.db, [row])
            progress.tell(LogLevel.WARNING, message)

        return log_retry

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


def describe_call(agent: str, completion: Completion) -> str:
    """One LLM call as the run log tells it: agent, model, tokens, cost."""
    usage = completion.usage
    cost = "unpriced" if usage.cost_usd is None else f"${usage.cost_usd:.6f}"
    return (
        f"LLM call by {agent}: {completion.model}, {usage.tokens_in} tokens in, "
        f"{usage.tokens_out} out, {cost}, {completion.latency_ms} ms"
    )


def _unpriced(completion: Completion, ctx: context.RunContext, agent: str) -> UnpricedModelError:
    """The call just made has no price while the task has a USD budget: say which model."""
    return UnpricedModelError(
        "the task has a USD budget, but "
        + unpriced_advice(completion.model, completion.reported_models),
        details={
            "model": completion.model,
            "reported_models": list(completion.reported_models),
            "setting": "AADAP_LLM_PRICES",
        },
        task_id=str(ctx.task_id),
        agent_id=agent,
        correlation_id=ctx.correlation_id,
    )
