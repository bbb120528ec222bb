"""What the Prefect API says about a flow run: the one probe reconcile (the flow and
``aadap reconcile``) and the approval commands use."""

from __future__ import annotations

import uuid

import httpx
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound

from aadap.core.exceptions import IntegrationError


async def flow_run_state(flow_run_id: str) -> str | None:
    """The flow run's state name from the Prefect API (:data:`outcome.FlowRunProbe`).

    ``None`` means unknown (not a flow-run id, or no such run on this API), and
    ``reconcile`` then leaves the task alone rather than fail a live lifecycle.
    """
    try:
        run_id = uuid.UUID(flow_run_id)
    except ValueError:
        return None
    try:
        async with get_client() as client:
            run = await client.read_flow_run(run_id)
    except ObjectNotFound:
        return None
    except httpx.HTTPError as exc:
        raise IntegrationError(
            f"cannot read flow run {flow_run_id} from the Prefect API: {type(exc).__name__}: {exc}",
            details={"flow_run_id": flow_run_id},
        ) from exc
    return None if run.state is None else run.state.name


__all__ = ["flow_run_state"]
