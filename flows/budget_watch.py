"""The ``budget-watch`` flow: today's and this month's spend against the budgets (COST-04).

Thin on purpose: ``aadap.services.budget_watch`` writes one WARNING/ERROR/CRITICAL
``task_logs`` row per threshold crossed (once per period), and
``aadap.orchestration.periodic`` emits one Prefect event per new row
(``aadap.budget.threshold`` / ``aadap.budget.hard-limit``) for automations.
Scheduled every few minutes by its deployment.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from aadap.orchestration import hooks
from aadap.orchestration.flowruns import scheduled_run_name
from aadap.orchestration.periodic import BudgetWatchSummary, run_budget_watch


@flow(
    name="budget-watch",
    flow_run_name=scheduled_run_name,
    validate_parameters=True,
    on_failure=hooks.FLOW_ON_FAILURE,
)
async def budget_watch(now: dt.datetime | None = None) -> BudgetWatchSummary:
    """Check spend against AADAP_BUDGETS_DAILY_USD / AADAP_BUDGETS_MONTHLY_USD at ``now``."""
    return await run_budget_watch(now=now)
