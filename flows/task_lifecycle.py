"""The ``task-lifecycle`` flow: one request, one task, one flow run.

Thin on purpose: parameters in, services called through the orchestration
layer, summary out. Async, because the services are async and because an async
flow has no one-second heartbeat tail (see the closing note of the lifecycle
issue and ``benchmarks/lifecycle.py``).
"""

# ruff: noqa: E402 - two calls must come before the heavy imports (below)
from __future__ import annotations

import gc

# first, before the heavy imports: a stop of `aadap serve` lets this run finish
from aadap.orchestration.served import leave_serve_process_group

leave_serve_process_group()

from prefect import flow

# Prefect's objects, imported just above (or already by the engine loading this flow),
# live as long as the process. Frozen, they are skipped by every garbage collection
# from here on, during the imports below and during the run: a served run's process
# reaches Running about 0.3 s sooner (benchmarks/README.md, "gc.freeze").
gc.freeze()

from aadap.core.requests import TaskRequest
from aadap.orchestration import hooks
from aadap.orchestration.lifecycle import run_lifecycle
from aadap.services.summary import LifecycleSummary


@flow(
    name="task-lifecycle",
    validate_parameters=True,
    **hooks.FLOW_HOOKS,
)
async def task_lifecycle(request: TaskRequest) -> LifecycleSummary:
    """Turn a plain-language data-engineering request into deployed code.

    Resuming a recorded task is the separate ``task-resume`` flow (``flows/task_resume.py``).

    Args:
        request: what you ask for, in plain language (the text first; the rest optional)
    """
    return await run_lifecycle(request, None)
