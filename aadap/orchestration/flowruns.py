"""What the Prefect API says about a flow run: the one probe reconcile (the flow and
``aadap reconcile``) and the approval commands use."""

from __future__ import annotations

import uuid

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound

from aadap.core.exceptions import IntegrationError


async def flow_run_state(flow_run_id: str) -> str | None:
    """The flow run's state name from the Prefect API.

    ``None`` means unknown (not a flow-run id, or no such run on this API).
    """
    state = await read_state(flow_run_id)
    return None if state is None else state.name


async def flow_run_ended(flow_run_id: str) -> str | None:
    """The state name of a flow run that has *ended* (a final state: Completed, Failed,
    Cancelled, Crashed), else ``None`` (:data:`outcome.FlowRunProbe`).

    Decided on the state's type, never its name: a run being resumed passes through
    Scheduled "Resuming" and Pending "Submitting", names no list can keep up with, and
    ``reconcile`` must leave such a run alone. Unknown runs are ``None`` too.
    """
    state = await read_state(flow_run_id)
    return state.name if state is not None and state.is_final() else None


async def read_state(flow_run_id: str) -> State | None:
    """The flow run's state (decide on its type: names vary); ``None``: unknown."""
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
    return run.state


__all__ = ["flow_run_ended", "flow_run_state", "read_state"]
