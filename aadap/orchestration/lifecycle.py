"""The lifecycle's control loop: explicit, deterministic, bounded, and resumable.

request → parse → plan → assign → develop ⇄ validate (bounded rework) → optimise
→ approve → deploy → complete. Each arrow is one Prefect task (``steps.py``);
every decision about *what happens next* is made here from the step results, and
every step resumes from the state recorded in our tables, so running the flow
again for an existing task (after a crash, or a suspend that re-runs the flow
from the top) never repeats a finished LLM call or deployment.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import Any

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.logging import get_run_logger
from prefect.utilities.annotations import quote

from aadap.agents import GeneratedCode, Plan, Requirement, Route
from aadap.core.enums import ApprovalStatus, LogLevel
from aadap.core.exceptions import ApprovalRejectedError, InvalidRequestError, TaskCancelledError
from aadap.core.requests import TaskRequest
from aadap.core.states import TERMINAL_STATES, TaskState
from aadap.orchestration import approval, bound_runtime, logmirror, run_artifacts, steps, story
from aadap.orchestration.retry import step_options
from aadap.services import (
    approval_gate,
    approvals,
    authoring,
    budget,
    context,
    costs,
    deployment,
    logs,
    outcome,
    tasks,
)  # fmt: skip
from aadap.services.cursor import TaskCursor, reached
from aadap.services.runtime import Runtime
from aadap.services.summary import LifecycleSummary, summarise


async def _run(
    step: Any, rt: Runtime, task_id: uuid.UUID, *inputs: Any, resumed: bool = False, **options: Any
) -> Any:
    """Run one step with its task-run options from settings, its task run named after
    its agent (and round, where the caller names one).

    Its inputs are passed through ``quote()``: Prefect walks a task's parameters to find
    upstream futures and treats any pydantic model with a ``keys`` field (``DeduplicateOp``)
    as a mapping, which fails; our inputs never hold futures. Task runs are tagged with
    the agent only: Prefect looks up the concurrency limits of every task run's tag set
    before running it and caches "no limit" per set for 5 s, so a per-task tag would cost
    one API call (and a new client) per step, about 40 ms each measured. The task id tags
    the flow run instead (:func:`_tag_flow_run`), which holds exactly one task's steps.

    ``resumed``: the run continues a recorded task; a step that moved the task nowhere
    found its work done in the record, and the run log says it was restored, not redone.
    """
    opts = {
        **step_options(rt.settings),
        "tags": [f"agent:{step.name}"],
        "task_run_name": step.name,
        **options,
    }
    before = rt.states.get(task_id)
    result = await step.with_options(**opts)(task_id, *(quote(value) for value in inputs))
    if resumed and before is not None and rt.states.get(task_id) is before:
        story.tell(
            LogLevel.INFO,
            f"{opts['task_run_name']}: restored from the record ({before.value}), not redone",
        )
    return result


def run_name(request: TaskRequest | dict[str, Any] | None, task_id: str | None) -> str:
    """A lifecycle flow run's name: the request's title (or the start of its text) and
    its environment, so the runs list reads like a work queue; a resume names its task."""
    if request is None:
        return f"resume task {str(task_id)[:8]}" if task_id else "task-lifecycle"
    data = request.model_dump() if isinstance(request, TaskRequest) else dict(request)
    # the task's title (``TaskRequest.effective_title``): the title, else the text's first line
    lines = str(data.get("title") or data.get("text") or "").strip().splitlines()
    title = " ".join(lines[0].split()) if lines else ""
    if len(title) > 60:
        title = title[:57].rstrip() + "…"
    env = str(data.get("environment") or "SANDBOX").lower()
    return f"{title or 'request'} · {env}"


def run_tags(task: Any) -> list[str]:
    """The flow run's tags for a task: its id, environment, platform and requester."""
    tags = [f"task:{task.id}", f"env:{task.environment.lower()}", f"platform:{task.platform}"]
    if task.created_by:
        tags.append(f"requester:{task.created_by}")
    return tags


async def _tag_flow_run(flow_run: Any, task: Any) -> None:
    """Tag the lifecycle's flow run (:func:`run_tags`) so the UI filters a task's runs, and
    name it after the task (a run started with only a ``task_id`` could not be named
    from its parameters)."""
    if flow_run is None:
        return
    wanted = [t for t in run_tags(task) if t not in flow_run.tags]
    name = run_name({"title": task.title, "environment": task.environment}, None)
    if not wanted and flow_run.name == name:
        return
    async with get_client() as client:
        await client.update_flow_run(flow_run.id, tags=[*flow_run.tags, *wanted], name=name)
    # the engine's copy of the run, which the flow hooks are handed: their log rows name
    # the run as the UI does, not by the random name it was created with
    flow_run.name = name


async def _settle(tagging: asyncio.Future[None]) -> None:
    """Wait for the flow-run tag. On the way out of a failed run, a failed tag call is
    logged (the run's own error is the one to report); on success the caller raises it."""
    await asyncio.wait([tagging])
    if sys.exc_info()[0] is not None and not tagging.cancelled() and tagging.exception():
        get_run_logger().warning("could not tag the flow run: %s", tagging.exception())


async def _restored_code(cur: TaskCursor) -> GeneratedCode | None:
    """The code awaiting (or past) its approval, where the task got that far: a run that
    resumes there (a suspend re-runs the flow from the top once a decision is made)
    takes it from the record instead of running parser to optimiser again as task runs
    that would each only read it back. None where those steps still have work to do."""
    state = await cur.state()
    if state is TaskState.REJECTED or not reached(state, TaskState.APPROVAL_PENDING):
        return None
    story.tell(
        LogLevel.INFO,
        f"parser to optimiser: restored from the record ({state.value}), not redone",
    )
    return await authoring.final_code(cur)


async def _prepare(
    rt: Runtime, task_id: uuid.UUID, *, resumed: bool
) -> tuple[Requirement, Plan, Route]:
    """Parse, plan and route: what every development round works from."""
    requirement = await _run(steps.parser, rt, task_id, resumed=resumed)
    plan = await _run(steps.planner, rt, task_id, requirement, resumed=resumed)
    route = await _run(steps.router, rt, task_id, requirement, plan, resumed=resumed)
    return requirement, plan, route


async def _author(
    rt: Runtime,
    task_id: uuid.UUID,
    inputs: tuple[Requirement, Plan, Route],
    round_no: int,
    *,
    resumed: bool,
) -> tuple[GeneratedCode, int]:
    """Develop and review, then optimise: the code for approval and the number of failed
    reviews so far. Bounded rework: the reviewer raises ``ValidationFailedError`` once
    the budget is spent."""
    requirement, plan, route = inputs
    while True:
        rnd = f"round-{round_no + 1}"
        code = await _run(
            steps.developer, rt, task_id, requirement, plan, route,
            task_run_name=f"developer-{rnd}", resumed=resumed,
        )  # fmt: skip
        review = await _run(
            steps.reviewer, rt, task_id, requirement, code, plan.optimise,
            task_run_name=f"reviewer-{rnd}", resumed=resumed,
        )  # fmt: skip
        if review.passed:
            break
        round_no += 1
    code = await _run(
        steps.optimiser, rt, task_id, plan, code,
        task_run_name=f"optimiser-{rnd}", resumed=resumed and plan.optimise,
    )  # fmt: skip
    return code, round_no


async def _drive(rt: Runtime, task_id: uuid.UUID, *, created: bool) -> None:
    s = rt.settings
    cur = TaskCursor(rt, task_id)
    resumed = not created
    code, inputs = None, None
    if resumed:
        story.tell(
            LogLevel.INFO,
            f"continuing task {task_id} from its record ({(await cur.state()).value}): "
            "steps already recorded are restored, not redone",
        )
        code = await _restored_code(cur)
    # failed reviews so far (names the rounds' task runs): none for a task this run created
    round_no = 0 if created else await authoring.failed_validations(cur)
    while True:  # one pass per approval round; a rejection sends the work back to development
        if code is None:
            inputs = inputs or await _prepare(rt, task_id, resumed=resumed)
            code, round_no = await _author(rt, task_id, inputs, round_no, resumed=resumed)
        outcome = await _run(
            steps.approval, rt, task_id, code,
            task_run_name=f"approval-round-{round_no + 1}", resumed=resumed,
        )  # fmt: skip
        if outcome.approved:
            break
        asked = await approval_gate.request_row(cur, outcome.approval_id)
        decision = await approval.wait_for_decision(cur, asked, code)
        row = await approval.record(cur, outcome.approval_id, decision)
        if row.status == ApprovalStatus.APPROVED.value:
            break
        rejections = await authoring.rejections(cur)
        if rejections > s.safety.max_rejections:
            raise ApprovalRejectedError(
                f"rejected {rejections} times (limit AADAP_SAFETY_MAX_REJECTIONS={s.safety.max_rejections}); "
                f"last comment from {decision.reviewer}: {decision.comment or 'none'}",
                task_id=str(task_id),
                details={"approval_id": str(row.id), "rejections": rejections},
            )
        resumed = False  # a new round: its steps do their work again
        code = None
    await _run(steps.deployer, rt, task_id, code.code, code.language, resumed=resumed)
    await deployment.complete(cur)


async def run_lifecycle(
    request: TaskRequest | dict[str, Any] | None = None, task_id: str | None = None
) -> LifecycleSummary:
    """The body of the ``task-lifecycle`` flow (``flows/task_lifecycle.py``)."""
    logmirror.install()
    story.install()
    run_ctx = FlowRunContext.get()
    flow_run = None if run_ctx is None else run_ctx.flow_run
    flow_run_id = None if flow_run is None else str(flow_run.id)
    runner = outcome.runner_identity(
        deployment=flow_run is not None and flow_run.deployment_id is not None
    )
    async with bound_runtime.open_runtime(hand_over_to=flow_run_id) as rt:
        return await _lifecycle(rt, request, task_id, flow_run, runner)


async def _lifecycle(
    rt: Runtime,
    request: TaskRequest | dict[str, Any] | None,
    task_id: str | None,
    flow_run: Any,
    runner: dict[str, object],
) -> LifecycleSummary:
    flow_run_id = None if flow_run is None else str(flow_run.id)
    existing = None if flow_run_id is None else await tasks.of_flow_run(rt.db, flow_run_id)
    created = False
    if task_id is not None or existing is not None:
        # a resumed suspend (or a crash retry) re-runs the flow from the top: same flow run, same task
        task = await tasks.load(rt.db, task_id or existing)  # type: ignore[arg-type]
    else:
        if request is None:
            raise InvalidRequestError(
                "task_lifecycle needs a request or a task_id", details={"field": "request"}
            )
        task, created = await tasks.create(
            rt.db, rt.settings, TaskRequest.parse(request), flow_run_id=flow_run_id,
            runner=runner, first_step=(TaskState.PARSING, steps.parser.name),
        )  # fmt: skip
        if not created:
            # the idempotency key names a task made from this same request: that task is
            # the answer, as it stands (``--resume`` continues one that did not finish)
            get_run_logger().info(
                "idempotency key %r names task %s (%s): returning it, nothing run",
                task.idempotency_key, task.id, task.current_state,
            )  # fmt: skip
            return await summarise(rt.db, task.id)
    if flow_run_id is not None:
        bound_runtime.remember_flow_run(flow_run_id, task.id)
    rt.remember(task)  # a new run reads the schema afresh and starts from the row's state
    if created:
        spend = budget.of_task(task)
    else:
        spend = await budget.load_spend(rt.db, task.id)
    ctx = context.RunContext(
        task_id=task.id,
        correlation_id=task.correlation_id,
        flow_run_id=flow_run_id,
        spend=spend,
    )
    with context.bind(ctx):
        if TaskState(task.current_state) not in TERMINAL_STATES:
            if existing is not None or task_id is not None:
                # calls of a run that died can never be settled by its hooks: keep them, as orphaned
                await costs.orphan_pending_now(rt.db, task_id=task.id)
            if not created:  # a new task was created with them
                await tasks.set_flow_run(rt.db, task.id, flow_run_id, runner)
            # one API call, made while the steps run; awaited before the run ends
            tagging = asyncio.ensure_future(_tag_flow_run(flow_run, task))
            await logs.write(
                rt.db,
                [
                    logs.entry(
                        level=LogLevel.INFO,
                        event="flow.started",
                        message=f"lifecycle of task {task.id} started in state {task.current_state}",
                        source="flow",
                    )
                ],
            )
            hard_stop = False
            try:
                await _drive(rt, task.id, created=created)
            except (TaskCancelledError, ApprovalRejectedError) as exc:
                await outcome.cancel(rt.db, task.id, by="lifecycle", reason=str(exc))
                raise
            except Exception as exc:
                await outcome.fail(rt.db, task.id, exc)
                raise
            except BaseException:
                hard_stop = True  # a pause, a cancellation, a crash
                raise
            finally:
                await _settle(tagging)
                summary = await summarise(rt.db, task.id)
                if flow_run_id is not None:
                    decided = await approvals.latest_decision(rt.db, task.id)
                    await run_artifacts.publish(summary, decided)
                if hard_stop or flow_run_id is None:
                    # no completion or failure hook will write through this runtime
                    await logmirror.flush(rt.db, flow_run_id)
            tagging.result()  # the run succeeded: a failed tag call fails it, as any API error
            return summary
        return await summarise(rt.db, task.id)
