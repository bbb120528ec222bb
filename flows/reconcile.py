"""The ``reconcile`` flow: expired approvals, orphaned lifecycles, ``task_logs`` retention.

Thin on purpose: ``aadap.services.maintenance`` and ``aadap.services.outcome`` do
the work; ``aadap.orchestration.periodic`` supplies the probe that asks the
Prefect API whether a lifecycle's flow run is still alive. Scheduled hourly by
its deployment.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow

from aadap.orchestration import hooks
from aadap.orchestration.flowruns import scheduled_run_name
from aadap.orchestration.periodic import ReconcileSummary, run_reconcile


@flow(
    name="reconcile",
    flow_run_name=scheduled_run_name,
    validate_parameters=True,
    on_failure=hooks.FLOW_ON_FAILURE,
)
async def reconcile(now: dt.datetime | None = None) -> ReconcileSummary:
    """Close what nobody will close: expired approvals, orphaned runs, logs past AADAP_RETENTION_DAYS."""
    return await run_reconcile(now=now)
