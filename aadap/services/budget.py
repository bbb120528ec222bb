"""Per-task budgets in tokens and USD, checked before each LLM call and after it."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from aadap.core.exceptions import (
    CostBudgetExceededError,
    TaskNotFoundError,
    TokenBudgetExceededError,
    UnpricedModelError,
)
from aadap.db.models import Task
from aadap.db.repos import task_repo
from aadap.db.session import Database
from aadap.services import costs
from aadap.services.context import Spend


async def _load(session: AsyncSession, task_id: uuid.UUID) -> tuple[Task, Spend]:
    task = await task_repo.get_task(session, task_id=task_id)
    if task is None:
        raise TaskNotFoundError(f"task {task_id} does not exist", task_id=str(task_id))
    unpriced = 0 if task.cost_budget_usd is None else await costs.unpriced_calls(session, task_id)
    return task, of_task(task, unpriced_calls=unpriced)


def of_task(task: Task, *, unpriced_calls: int = 0) -> Spend:
    """The task's budgets and totals as its row has them (a task just created: nothing
    spent, no call recorded, so no query is needed)."""
    return Spend(
        tokens_used=task.tokens_used or 0,
        cost_usd=task.cost_usd if task.cost_usd is not None else Decimal(0),
        token_budget=task.token_budget,
        cost_budget_usd=task.cost_budget_usd,
        unpriced_calls=unpriced_calls,
    )


async def load_spend(db: Database, task_id: uuid.UUID) -> Spend:
    """:func:`load` in a read session of its own."""
    async with db.sessions() as session:
        return await load(session, task_id)


async def load(session: AsyncSession, task_id: uuid.UUID) -> Spend:
    """The task's budgets and totals from the database."""
    return (await _load(session, task_id))[1]


async def check(
    session: AsyncSession, task_id: uuid.UUID, *, upcoming_tokens: int = 0, agent: str | None = None
) -> None:
    """:func:`check_spend` on the task's figures read from the database."""
    task, spend = await _load(session, task_id)
    check_spend(
        spend,
        task_id=task_id,
        correlation_id=task.correlation_id,
        upcoming_tokens=upcoming_tokens,
        agent=agent,
    )


def check_spend(
    spend: Spend,
    *,
    task_id: uuid.UUID,
    correlation_id: str | None,
    upcoming_tokens: int = 0,
    agent: str | None = None,
) -> None:
    """Raise the CRITICAL budget error if the task has spent (or would spend) past a budget.

    ``upcoming_tokens`` is the estimate of the prompt about to be sent (checked
    before the call); after the call it is 0 and the recorded totals are checked.
    A USD budget with an unpriced call on record fails closed.
    """
    if spend.tokens_used + upcoming_tokens > spend.token_budget:
        raise TokenBudgetExceededError(
            f"token budget exceeded: {spend.tokens_used} used"
            + (f" + ~{upcoming_tokens} for the next call" if upcoming_tokens else "")
            + f" > budget {spend.token_budget}",
            details={
                "tokens_used": spend.tokens_used,
                "upcoming": upcoming_tokens,
                "budget": spend.token_budget,
            },
            task_id=str(task_id),
            agent_id=agent,
            correlation_id=correlation_id,
        )
    if spend.cost_budget_usd is None:
        return
    if spend.cost_usd > spend.cost_budget_usd or (
        upcoming_tokens and spend.cost_usd >= spend.cost_budget_usd > 0
    ):
        raise CostBudgetExceededError(
            f"USD budget exceeded: spent ${spend.cost_usd} of ${spend.cost_budget_usd}",
            details={"cost_usd": str(spend.cost_usd), "budget_usd": str(spend.cost_budget_usd)},
            task_id=str(task_id),
            agent_id=agent,
            correlation_id=correlation_id,
        )
    if spend.unpriced_calls:
        raise UnpricedModelError(
            f"the task has a USD budget (${spend.cost_budget_usd}) but a model without a known price was used; "
            "set its price in AADAP_LLM_PRICES (USD per million tokens; the cost rows name the "
            "model) or run without a USD budget (AADAP_BUDGETS_TASK_USD=off)",
            task_id=str(task_id),
            agent_id=agent,
            correlation_id=correlation_id,
        )
