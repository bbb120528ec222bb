"""The ``cost-report`` flow: spend by day, week, month, agent, model and task (COST-01…03, 07).

Thin on purpose: the figures come from ``aadap.services.reports``; the CSV file
(``AADAP_HOME/reports/cost-report-<date>.csv``) and the Prefect table and
markdown artifacts from ``aadap.orchestration.periodic``. Scheduled daily by
its deployment (cron and time zone from settings).
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from aadap.orchestration import hooks
from aadap.orchestration.flowruns import scheduled_run_name
from aadap.orchestration.periodic import CostReportSummary, run_cost_report


@flow(
    name="cost-report",
    flow_run_name=scheduled_run_name,
    validate_parameters=True,
    on_failure=hooks.FLOW_ON_FAILURE,
)
async def cost_report(months: int = 3, now: dt.datetime | None = None) -> CostReportSummary:
    """Report spend from the start of the month ``months - 1`` months back until ``now``.

    ``now`` (timezone-aware) defaults to the current time; buckets are in AADAP_TIMEZONE.
    """
    return await run_cost_report(months=months, now=now)
