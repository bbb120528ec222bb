"""Per-task budgets in tokens and USD, checked before each LLM call and after it."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.exceptions import (
    CostBudgetExceededError,
    TaskNotFoundError,
    TokenBudgetExceededError,
    UnpricedModelError,
)
from aadap.db.models import Task
from aadap.services import costs


async def check(
    session: AsyncSession, task_id: uuid.UUID, *, upcoming_tokens: int = 0, agent: str | None = None
) -> None:
    """Raise the CRITICAL budget error if the task has spent (or would spend) past a budget.

    ``upcoming_tokens`` is the estimate of the prompt about to be sent (checked
    before the call); after the call it is 0 and the recorded totals are checked.
    A USD budget with an unpriced call on record fails closed.
    """
    task = (await session.execute(select(Task).where(Task.id == task_id))).scalar_one_or_none()
    if task is None:
        raise TaskNotFoundError(f"task {task_id} does not exist", task_id=str(task_id))
    if task.tokens_used + upcoming_tokens > task.token_budget:
        raise TokenBudgetExceededError(
            f"token budget exceeded: {task.tokens_used} used"
            + (f" + ~{upcoming_tokens} for the next call" if upcoming_tokens else "")
            + f" > budget {task.token_budget}",
            details={
                "tokens_used": task.tokens_used,
                "upcoming": upcoming_tokens,
                "budget": task.token_budget,
            },
            task_id=str(task_id),
            agent_id=agent,
            correlation_id=task.correlation_id,
        )
    if task.cost_budget_usd is None:
        return
    if task.cost_usd > task.cost_budget_usd or (
        upcoming_tokens and task.cost_usd >= task.cost_budget_usd > 0
    ):
        raise CostBudgetExceededError(
            f"USD budget exceeded: spent ${task.cost_usd} of ${task.cost_budget_usd}",
            details={"cost_usd": str(task.cost_usd), "budget_usd": str(task.cost_budget_usd)},
            task_id=str(task_id),
            agent_id=agent,
            correlation_id=task.correlation_id,
        )
    if await costs.unpriced_calls(session, task_id):
        raise UnpricedModelError(
            f"the task has a USD budget (${task.cost_budget_usd}) but a model without a known price was used; "
            "set its price in AADAP_LLM_PRICES (USD per million tokens) or run without a USD budget",
            task_id=str(task_id),
            agent_id=agent,
            correlation_id=task.correlation_id,
        )
