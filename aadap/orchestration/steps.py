"""The lifecycle's steps as Prefect tasks, one per agent, each a thin call into the services.

Every step binds the run context (step name, task run id, attempt) so the cost
and log rows its LLM calls write are stamped with them, and records a failed
attempt before re-raising (Prefect's ``on_failure`` hook fires only after the
last attempt).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prefect import task
from prefect.runtime import task_run as current_task_run

from aadap.agents import GeneratedCode, Plan, Requirement, Review, Route
from aadap.core.enums import Language, LogLevel
from aadap.core.exceptions import AADAPError, OrchestratorError, is_retryable
from aadap.orchestration import bound_runtime, hooks, story
from aadap.orchestration.hooks import level_for
from aadap.services import approval_gate, authoring, context, deployment, logs
from aadap.services.approval_gate import ApprovalOutcome
from aadap.services.cursor import TaskCursor
from aadap.services.deployment import Deployment


def step_task(name: str) -> Any:
    """``@task`` with the lifecycle's step hooks; retries come per call from settings.

    No ``on_running`` hook: the step body writes each attempt's ``step.attempt`` row
    itself (:func:`_step`). Prefect wraps every hook call in two INFO log records and a
    state check; for a row that needs nothing the body does not have, that was pure
    overhead on each of the lifecycle's eight steps."""
    return task(
        name=name,
        on_completion=hooks.STEP_ON_COMPLETION,
        on_failure=hooks.STEP_ON_FAILURE,
    )


@asynccontextmanager
async def _step(name: str, task_id: uuid.UUID) -> AsyncIterator[TaskCursor]:
    rt = bound_runtime.current()
    if rt is None:
        raise OrchestratorError(f"step {name} ran outside a lifecycle flow run (no runtime bound)")
    attempt = int(current_task_run.run_count or 1)
    task_run_id = None if current_task_run.id is None else str(current_task_run.id)
    with context.step(name, task_run_id=task_run_id, attempt=attempt):
        await logs.write(
            rt.db,
            [
                logs.entry(
                    level=LogLevel.INFO, event="step.attempt", source=f"step:{name}",
                    message=f"{name}: attempt {attempt} ({'Retrying' if attempt > 1 else 'Running'})",
                    task_run_id=task_run_id, attempt=attempt,
                )
            ],
        )  # fmt: skip
        try:
            yield TaskCursor(rt, task_id)
        except Exception as exc:
            rt.states.pop(task_id, None)  # the retry (or the next run) reads the state afresh
            retry = is_retryable(exc)
            await logs.write(
                rt.db,
                [
                    logs.entry(
                        level=LogLevel.WARNING if retry else level_for(exc),
                        event="step.attempt_failed",
                        message=f"{name}: attempt {attempt} failed ({'retryable' if retry else 'not retryable'}): "
                        + (
                            str(exc)
                            if isinstance(exc, AADAPError)
                            else f"{type(exc).__name__}: {exc}"
                        ),
                        source=f"step:{name}",
                        task_run_id=task_run_id,
                        attempt=attempt,
                        error=exc,
                        details={"retryable": retry},
                    )
                ],
            )
            story.tell(
                LogLevel.WARNING if retry else level_for(exc),
                f"{name}: attempt {attempt} failed, {'will retry' if retry else 'not retryable'}: "
                + (str(exc) if isinstance(exc, AADAPError) else f"{type(exc).__name__}: {exc}"),
            )
            raise


@step_task("parser")
async def parser(task_id: uuid.UUID) -> Requirement:
    async with _step("parser", task_id) as cur:
        return await authoring.parse(cur)


@step_task("planner")
async def planner(task_id: uuid.UUID, requirement: Requirement) -> Plan:
    async with _step("planner", task_id) as cur:
        return await authoring.plan(cur, requirement)


@step_task("router")
async def router(task_id: uuid.UUID, requirement: Requirement, plan: Plan) -> Route:
    async with _step("router", task_id) as cur:
        return await authoring.route(cur, requirement, plan)


@step_task("developer")
async def developer(
    task_id: uuid.UUID, requirement: Requirement, plan: Plan, route: Route
) -> GeneratedCode:
    async with _step("developer", task_id) as cur:
        return await authoring.develop(cur, requirement, plan, route)


@step_task("reviewer")
async def reviewer(
    task_id: uuid.UUID, requirement: Requirement, code: GeneratedCode, optimise_next: bool = False
) -> Review:
    async with _step("reviewer", task_id) as cur:
        return await authoring.validate(cur, requirement, code, optimise_next=optimise_next)


@step_task("optimiser")
async def optimiser(task_id: uuid.UUID, plan: Plan, code: GeneratedCode) -> GeneratedCode:
    async with _step("optimiser", task_id) as cur:
        return await authoring.optimise(cur, plan, code)


@step_task("approval")
async def approval(task_id: uuid.UUID, code: GeneratedCode) -> ApprovalOutcome:
    async with _step("approval", task_id) as cur:
        return await approval_gate.request_approval(cur, code)


@step_task("deployer")
async def deployer(task_id: uuid.UUID, code: str, language: Language) -> Deployment:
    async with _step("deployer", task_id) as cur:
        return await deployment.deploy(cur, code, language)


ALL_STEPS = (parser, planner, router, developer, reviewer, optimiser, approval, deployer)
