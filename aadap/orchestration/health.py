"""The connection health check: every active connection tested, a few at a time.

Each test is a Prefect task (visible per connection in the UI) that calls
:func:`aadap.services.connections.probe`, which records status, latency and the
last error on the row and writes the ``task_logs`` row: ``connection.tested``
(INFO) or ``connection.unhealthy`` (WARNING, task_id NULL). A connection whose
secret cannot be decrypted is reported unhealthy without touching its row.
The flow (``flows/connection_health.py``) only calls :func:`check_connections`.
"""

from __future__ import annotations

import asyncio

from prefect import task
from prefect.logging import get_run_logger
from pydantic import BaseModel

from aadap.core.exceptions import AADAPError, InvalidRequestError, OrchestratorError
from aadap.db.types import utcnow
from aadap.orchestration import bound_runtime, secret_blocks
from aadap.services import connections
from aadap.services.connections import ProbeOutcome
from aadap.services.runtime import Runtime

SOURCE = "flow:connection-health"
MAX_CONCURRENCY = 32


class HealthReport(BaseModel):
    """What the ``connection-health`` flow returns."""

    checked: int
    healthy: list[str]
    unhealthy: list[str]
    outcomes: list[ProbeOutcome]


@task(name="test-connection", task_run_name="test-{name}", retries=0)
async def probe_connection(name: str) -> ProbeOutcome:
    """Test one connection and record the outcome; a key problem is reported, not raised."""
    rt = _runtime()
    logger = get_run_logger()
    try:
        outcome = await connections.probe(
            rt.db, rt.settings, name=name, blocks=rt.secret_blocks or secret_blocks.load_secret,
            source=SOURCE,
        )  # fmt: skip
    except AADAPError as exc:  # probe logged it; the row stays as it was
        logger.warning("connection %s: %s", name, exc)
        return ProbeOutcome(
            name=name, platform="unknown", ok=False, status="FAILED", latency_ms=None,
            error=str(exc), error_code=exc.error_code, tested_at=utcnow(), recorded=False,
        )  # fmt: skip
    if outcome.ok:
        logger.info("connection %s is healthy (%s ms)", name, outcome.latency_ms)
    else:
        logger.warning("connection %s is unhealthy: %s", name, outcome.error)
    return outcome


def _runtime() -> Runtime:
    rt = bound_runtime.current()
    if rt is None:
        raise OrchestratorError("probe_connection ran outside check_connections (no runtime bound)")
    return rt


async def check_connections(*, concurrency: int = 4) -> HealthReport:
    """Test every active connection, at most ``concurrency`` at a time."""
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidRequestError(
            f"concurrency={concurrency!r} is not valid; allowed: 1..{MAX_CONCURRENCY}",
            details={"field": "concurrency", "value": concurrency},
        )
    async with bound_runtime.open_runtime() as rt:
        names = await connections.active_names(rt.db)
        gate = asyncio.Semaphore(concurrency)

        async def one(name: str) -> ProbeOutcome:
            async with gate:
                result: ProbeOutcome = await probe_connection(name)
                return result

        outcomes = list(await asyncio.gather(*(one(name) for name in names)))
    return HealthReport(
        checked=len(outcomes),
        healthy=[o.name for o in outcomes if o.ok],
        unhealthy=[o.name for o in outcomes if not o.ok],
        outcomes=outcomes,
    )


__all__ = ["HealthReport", "check_connections", "probe_connection"]
