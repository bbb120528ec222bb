"""``aadap run``: one lifecycle in the foreground on whatever is configured (embedded by default)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aadap.cli._common import (
    EXIT_FAILURE,
    ConnectionOpt,
    EnvironmentOpt,
    Format,
    IdempotencyKeyOpt,
    PlatformOpt,
    TokenBudgetOpt,
    UsdBudgetOpt,
    bad_input,
    check_format,
    err,
    fail,
    open_database,
    out,
    print_json,
    run_async,
    settings_or_exit,
    task_request,
)
from aadap.cli._prefect_env import prepare
from aadap.core.exceptions import AADAPError
from aadap.core.states import TaskState

if TYPE_CHECKING:
    from aadap.core.requests import TaskRequest
    from aadap.db.session import Database

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> str:
    from aadap.agents.examples import load_examples

    examples = load_examples(EXAMPLES_DIR)
    for example in examples:
        if example.name == name:
            return example.request
    return bad_input("--example", name, ", ".join(e.name for e in examples))


async def _reconcile_orphans(db: Database) -> None:
    """Close the trail of lifecycles whose local process died (kill -9, power loss)."""
    from aadap.services import outcome

    found = await outcome.reconcile(db)
    for orphan in found:
        err.print(f"reconciled orphaned task {orphan.task_id}: {orphan.reason}", highlight=False)


class _Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(
        self, task_id: uuid.UUID, src: TaskState, dst: TaskState, reason: str | None
    ) -> None:
        elapsed = time.monotonic() - self.started
        mark = {"FAILED": "✗", "CANCELLED": "✗", "VALIDATION_FAILED": "↺", "REJECTED": "↺"}.get(
            dst.value, "✓"
        )
        note = (
            f"  {reason[:100]}"
            if reason
            and dst.value in ("FAILED", "CANCELLED", "VALIDATION_FAILED", "AGENT_ASSIGNED")
            else ""
        )
        err.print(
            f"  {mark} {elapsed:6.2f}s  {src.value:>20} → {dst.value:<20}{note}",
            highlight=False,
            markup=False,
        )


def _print_summary(summary: Any) -> None:
    out.print(f"\ntask      {summary.task_id}", highlight=False)
    out.print(f"state     {summary.state}", highlight=False)
    out.print(
        f"tokens    {summary.tokens_used}   cost ${summary.cost_usd:.6f}   LLM calls {summary.llm_calls}",
        highlight=False,
    )
    if summary.code:
        out.print(
            f"\n-- code ({summary.language}) --\n{summary.code}", highlight=False, markup=False
        )
    result = summary.result or {}
    if result.get("columns"):
        out.print("\n-- result preview --", highlight=False)
        cols = result["columns"]
        out.print(" | ".join(cols), highlight=False, markup=False)
        for row in result.get("rows", [])[:10]:
            out.print(" | ".join(str(row.get(c)) for c in cols), highlight=False, markup=False)
        if result.get("row_count") is not None:
            out.print(f"({result['row_count']} rows)", highlight=False)
    elif result:
        out.print(f"\n-- result --\n{result.get('output') or ''}", highlight=False, markup=False)
    if summary.error:
        err.print(f"\nstopped: {summary.error}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        request: Annotated[str | None, typer.Argument(help="the request in plain language")] = None,
        example: Annotated[
            str | None, typer.Option(help="run a bundled example from examples/requests.toml")
        ] = None,
        environment: EnvironmentOpt = "SANDBOX",
        platform: PlatformOpt = "local",
        connection: ConnectionOpt = None,
        token_budget: TokenBudgetOpt = None,
        usd_budget: UsdBudgetOpt = None,
        idempotency_key: IdempotencyKeyOpt = None,
        resume: Annotated[
            str | None, typer.Option(help="continue an existing task from its recorded state")
        ] = None,
        fmt: Format = "text",
        verbose: Annotated[bool, typer.Option(help="show Prefect's own logs")] = False,
    ) -> None:
        """Run one lifecycle in-process and show each step as it completes."""
        check_format(fmt)
        settings = settings_or_exit()
        payload: TaskRequest | None = None
        if resume is None:
            working_dir = Path.cwd()
            if example is not None:
                request = _example(example)
                working_dir = EXAMPLES_DIR  # the examples' relative paths resolve against it
            if request is None:
                bad_input("request", None, "a request text argument, or --example NAME")
            payload = task_request(
                request, environment=environment, platform=platform, connection=connection,
                token_budget=token_budget, usd_budget=usd_budget,
                idempotency_key=idempotency_key, working_dir=working_dir,
            )  # fmt: skip
        prepare(settings, verbose=verbose)

        async def go() -> tuple[Any, BaseException | None]:
            from prefect.client.schemas.objects import State

            from aadap.services import progress
            from aadap.services.summary import summarise
            from flows.task_lifecycle import task_lifecycle

            async with open_database(settings) as db:
                await _reconcile_orphans(db)
                reused = None if payload is None else await _idempotent_task(db, payload)
                if reused is not None:
                    return await summarise(db, reused), None
                with progress.listen(_Progress()):
                    if resume is not None:
                        state: State[Any] = await task_lifecycle(task_id=resume, return_state=True)
                    else:
                        state = await task_lifecycle(request=payload, return_state=True)
                if state.is_completed():
                    return await state.result(), None
                error: BaseException | None = None
                try:
                    await state.result()
                except Exception as exc:  # noqa: BLE001 - reported below with its code, then exit non-zero
                    error = exc
                flow_run_id = (
                    str(state.state_details.flow_run_id)
                    if state.state_details.flow_run_id
                    else None
                )
                task_id = await _task_of(db, flow_run_id) if resume is None else resume
                summary = None if task_id is None else await summarise(db, uuid.UUID(str(task_id)))
                return summary, error or AADAPError(
                    state.message or f"the flow run ended {state.name}"
                )

        summary, error = run_async(go)
        if summary is not None:
            if fmt == "json":
                print_json(summary.model_dump(mode="json"))
            else:
                _print_summary(summary)
        if isinstance(error, AADAPError):
            fail(error)
        if error is not None:
            err.print(f"error: {type(error).__name__}: {error}", highlight=False, markup=False)
            raise typer.Exit(EXIT_FAILURE)
        if summary is None or summary.state != TaskState.COMPLETED.value:
            raise typer.Exit(EXIT_FAILURE)


async def _idempotent_task(db: Database, payload: TaskRequest) -> uuid.UUID | None:
    """The task the request's idempotency key already names (nothing runs again), or
    None; a key naming a task made from another request is refused before any run."""
    from aadap.services import tasks

    task = await tasks.of_idempotency_key(db, payload)
    if task is None:
        return None
    err.print(
        f"idempotency key {payload.idempotency_key!r} names task {task.id} ({task.current_state}); "
        "nothing was run" + ("" if task.current_state == TaskState.COMPLETED.value
                             else f"; continue it with `aadap run --resume {task.id}`"),
        highlight=False,
        markup=False,
    )  # fmt: skip
    return task.id


async def _task_of(db: Database, flow_run_id: str | None) -> str | None:
    from sqlalchemy import select

    from aadap.db.models import Task

    if flow_run_id is None:
        return None
    async with db.sessions() as session:
        found = (
            await session.execute(select(Task.id).where(Task.flow_run_id == flow_run_id))
        ).scalar_one_or_none()
    return None if found is None else str(found)


__all__ = ["register"]
