"""Prefect state hooks that persist the trail: ``task_logs`` rows and settled ``cost_records``.

Hooks are best-effort in Prefect (a raising hook is logged, never fatal; a
crashed task runs none), so nothing that safety depends on lives here: state
transitions and approvals are written by the steps themselves, and every LLM
call is committed the moment it returns. Hooks add the attempt-level trail and
settle the cost rows of each attempt.

Parameter names matter: runners call flow hooks with ``flow=, flow_run=, state=``.
"""

from __future__ import annotations

import uuid
from typing import Any

from aadap.core.enums import LogLevel
from aadap.core.exceptions import AADAPError, ErrorSeverity, TaskCancelledError
from aadap.db.session import Database
from aadap.orchestration import bound_runtime, logmirror
from aadap.orchestration.retry import failure_of
from aadap.services import context, costs, logs, outcome, tasks

_SEVERITY_LEVEL = {
    ErrorSeverity.LOW: LogLevel.WARNING,
    ErrorSeverity.MEDIUM: LogLevel.ERROR,
    ErrorSeverity.HIGH: LogLevel.ERROR,
    ErrorSeverity.CRITICAL: LogLevel.CRITICAL,
}


def level_for(error: BaseException | None) -> LogLevel:
    if isinstance(error, AADAPError):
        return _SEVERITY_LEVEL[error.severity]
    return LogLevel.ERROR


def _task_id(flow_run_id: Any) -> uuid.UUID | None:
    return bound_runtime.task_of_flow_run(None if flow_run_id is None else str(flow_run_id))


async def _write(db: Database, **fields: Any) -> None:
    await logs.write(db, [logs.entry(**fields)])


# --- task hooks ---------------------------------------------------------------------
#
# The step hooks commit the trail rows they write (attempt and completion log rows,
# mirrored run logs, and the settlement of cost rows no commit settled: the commit that
# records a step's finish settles the calls it made, ``services.steps``).


def _step_row(task: Any, task_run: Any, **fields: Any) -> Any:
    return logs.entry(
        source=f"step:{task.name}",
        task_id=_task_id(task_run.flow_run_id),
        flow_run_id=str(task_run.flow_run_id),
        task_run_id=str(task_run.id),
        attempt=task_run.run_count,
        **fields,
    )


async def on_step_completed(task: Any, task_run: Any, state: Any) -> None:
    rt = bound_runtime.current()
    if rt is None:
        return
    ctx = context.current()
    calls = None if ctx is None or ctx.spend is None else ctx.spend.calls_of(str(task_run.id))
    # a step that made no LLM call (router, approval, deployer) has none to settle, and the
    # commit that recorded a step's finish settled the calls it had made
    if ctx is None or ctx.spend is None or ctx.spend.unsettled(str(task_run.id)):
        await costs.finalise_attempts(
            rt.db, task_run_id=str(task_run.id), final_attempt=task_run.run_count, succeeded=True
        )
    # the step's row and the run's mirrored log records, in one INSERT
    await logs.write(
        rt.db,
        [
            _step_row(
                task, task_run, level=LogLevel.INFO, event="step.completed",
                message=f"{task.name}: completed on attempt {task_run.run_count}",
                details={} if calls is None else {"llm_calls": calls},
            ),
            *logmirror.drain(str(task_run.flow_run_id)),
        ],
    )  # fmt: skip


async def on_step_failed(task: Any, task_run: Any, state: Any) -> None:
    """Once, after the last attempt (Prefect does not call it per retried attempt).
    Committed at once: a failed step usually ends the run."""
    rt = bound_runtime.current()
    if rt is None:
        return
    error = await failure_of(state)
    settled = await costs.finalise_attempts(
        rt.db, task_run_id=str(task_run.id), final_attempt=task_run.run_count, succeeded=False
    )
    await logs.write(
        rt.db,
        [
            _step_row(
                task, task_run, level=level_for(error), event="step.failed",
                message=f"{task.name}: failed on attempt {task_run.run_count}: {error or state.message}",
                error=error, details={"llm_calls_settled": settled, "state": state.name},
            )
        ],
    )  # fmt: skip
    await logmirror.flush(rt.db, str(task_run.flow_run_id))


STEP_ON_COMPLETION: list[Any] = [on_step_completed]
STEP_ON_FAILURE: list[Any] = [on_step_failed]


# --- flow hooks ---------------------------------------------------------------------


async def on_flow_running(flow: Any, flow_run: Any, state: Any) -> None:
    logmirror.install()


async def on_flow_completed(flow: Any, flow_run: Any, state: Any) -> None:
    async with bound_runtime.database_for_hooks(str(flow_run.id)) as db:
        await _write(
            db,
            level=LogLevel.INFO,
            event="flow.completed",
            message=f"flow run {flow_run.name} completed",
            source="flow",
            task_id=_task_id(flow_run.id),
            flow_run_id=str(flow_run.id),
        )
        await logmirror.flush(db, str(flow_run.id))


async def on_flow_failed(flow: Any, flow_run: Any, state: Any) -> None:
    error = await failure_of(state)
    async with bound_runtime.database_for_hooks(str(flow_run.id)) as db:
        task_id = _task_id(flow_run.id) or await tasks.of_flow_run(db, str(flow_run.id))
        if task_id is not None and error is not None:
            await outcome.fail(db, task_id, error, by="flow")
        await _write(
            db,
            level=level_for(error),
            event="flow.failed",
            message=f"flow run {flow_run.name} failed: {state.message}",
            source="flow",
            task_id=task_id,
            flow_run_id=str(flow_run.id),
            error=error,
        )
        await logmirror.flush(db, str(flow_run.id))


async def on_flow_crashed(flow: Any, flow_run: Any, state: Any) -> None:
    """Runs outside any run context, possibly in another process (a worker after SIGKILL)."""
    async with bound_runtime.database_for_hooks(str(flow_run.id)) as db:
        task_id = _task_id(flow_run.id) or await tasks.of_flow_run(db, str(flow_run.id))
        if task_id is None:
            return
        settled = await costs.orphan_pending_now(db, task_id=task_id)
        await outcome.close(
            db,
            task_id,
            to=outcome.S.FAILED,
            by="flow:crashed",
            reason=f"flow run crashed: {state.message}",
        )
        await _write(
            db,
            level=LogLevel.CRITICAL,
            event="flow.crashed",
            message=f"flow run {flow_run.name} crashed: {state.message}",
            source="flow",
            task_id=task_id,
            flow_run_id=str(flow_run.id),
            details={"settled_costs": settled},
        )


async def on_flow_cancelled(flow: Any, flow_run: Any, state: Any) -> None:
    """Runs in the runner after it killed the flow-run process: the killed step ran no hook,
    so its returned calls are still ``pending``, and reconcile skips a CANCELLED task."""
    async with bound_runtime.database_for_hooks(str(flow_run.id)) as db:
        task_id = _task_id(flow_run.id) or await tasks.of_flow_run(db, str(flow_run.id))
        if task_id is None:
            return
        settled = await costs.orphan_pending_now(db, task_id=task_id)
        await outcome.cancel(db, task_id, by="prefect", reason=f"flow run cancelled ({state.name})")
        await _write(
            db,
            level=LogLevel.WARNING,
            event="flow.cancelled",
            message=f"flow run {flow_run.name} was cancelled",
            source="flow",
            task_id=task_id,
            flow_run_id=str(flow_run.id),
            error=TaskCancelledError("cancelled from Prefect"),
            details={"settled_costs": settled},
        )


FLOW_ON_RUNNING: list[Any] = [on_flow_running]
FLOW_ON_COMPLETION: list[Any] = [on_flow_completed]
FLOW_ON_FAILURE: list[Any] = [on_flow_failed]
FLOW_ON_CRASHED: list[Any] = [on_flow_crashed]
FLOW_ON_CANCELLATION: list[Any] = [on_flow_cancelled]
#: every lifecycle flow's state hooks, as ``@flow(..., **FLOW_HOOKS)`` takes them
FLOW_HOOKS: dict[str, Any] = {
    "on_running": FLOW_ON_RUNNING,
    "on_completion": FLOW_ON_COMPLETION,
    "on_failure": FLOW_ON_FAILURE,
    "on_crashed": FLOW_ON_CRASHED,
    "on_cancellation": FLOW_ON_CANCELLATION,
}
