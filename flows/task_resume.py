"""The ``task-resume`` flow: continue one recorded task from the state in AADAP's tables.

A separate flow, so that resuming is an explicit choice with its own form (a task id),
and the ``task-lifecycle`` form needs a request.
"""

# ruff: noqa: E402 - one call must come before the heavy imports (below)
from __future__ import annotations

# first, before the heavy imports: a stop of `aadap serve` lets this run finish
from aadap.orchestration.served import leave_serve_process_group

leave_serve_process_group()

from prefect import flow

from aadap.orchestration import hooks
from aadap.orchestration.lifecycle import run_lifecycle
from aadap.services.summary import LifecycleSummary


@flow(
    name="task-resume",
    validate_parameters=True,
    **hooks.FLOW_HOOKS,
)
async def task_resume(task_id: str) -> LifecycleSummary:
    """Continue a recorded task that did not finish, from the state recorded in AADAP's tables.

    Args:
        task_id: the id of a recorded task (``aadap status`` lists them); the steps
            already recorded are restored, not redone
    """
    return await run_lifecycle(None, task_id)
