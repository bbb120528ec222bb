"""The ``connection-health`` flow: test every active platform connection.

Thin on purpose: the work is in ``aadap.orchestration.health`` and the
connections service. Its deployment and schedule land with the deployments issue.
"""

from __future__ import annotations

from prefect import flow

from aadap.orchestration.flowruns import scheduled_run_name
from aadap.orchestration.health import HealthReport, check_connections


@flow(
    name="connection-health",
    flow_run_name=scheduled_run_name,
    validate_parameters=True,
)
async def connection_health(concurrency: int = 4) -> HealthReport:
    """Test every active connection (``concurrency`` at a time); failures are logged as warnings."""
    return await check_connections(concurrency=concurrency)
