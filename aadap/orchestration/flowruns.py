"""What the Prefect API says about a flow run: the one probe reconcile (the flow and
``aadap reconcile``) and the approval commands use; the Crashed state reconcile gives a
run whose process died; and the names of periodic runs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING

import httpx
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import State
from prefect.exceptions import ObjectNotFound
from prefect.states import Crashed

from aadap.core.exceptions import IntegrationError

if TYPE_CHECKING:
    from aadap.services.outcome import Orphan


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


async def crash_if_live(flow_run_id: str, message: str) -> None:
    """Mark a flow run Crashed unless it has ended.

    For a run whose process died (kill -9, power loss): nothing else ends it in Prefect,
    where it stays Running, or Paused when it was waiting for a decision."""
    state = await read_state(flow_run_id)
    if state is None or state.is_final():
        return
    try:
        async with get_client() as client:
            await client.set_flow_run_state(
                uuid.UUID(flow_run_id), Crashed(message=message), force=True
            )
    except httpx.HTTPError as exc:
        raise IntegrationError(
            f"cannot mark flow run {flow_run_id} crashed: {type(exc).__name__}: {exc}",
            details={"flow_run_id": flow_run_id},
        ) from exc


async def crash_orphaned_runs(orphans: Sequence[Orphan]) -> None:
    """Mark Crashed the flow runs of the orphans reconcile found because their process
    died (Prefect was not asked, and still shows them Running or Paused)."""
    for orphan in orphans:
        if orphan.flow_run_id and orphan.prefect_state is None:
            message = f"its process died; AADAP closed task {orphan.task_id} ({orphan.reason})"
            await crash_if_live(orphan.flow_run_id, message)


def scheduled_run_name() -> str:
    """A periodic flow run's name (its ``flow_run_name``): the flow and the time the run
    was due (UTC), so a schedule's runs read in order in the runs list instead of as
    random words."""
    from prefect.runtime import flow_run

    return f"{flow_run.flow_name} · {flow_run.scheduled_start_time:%Y-%m-%d %H:%M} UTC"


__all__ = [
    "crash_if_live",
    "crash_orphaned_runs",
    "flow_run_ended",
    "flow_run_state",
    "read_state",
    "scheduled_run_name",
]
