"""``aadap run``: one lifecycle in the foreground on whatever is configured (embedded by default)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aadap.cli._common import (
    EXIT_FAILURE,
    ConnectionOpt,
    Format,
    IdempotencyKeyOpt,
    TokenBudgetOpt,
    UsdBudgetOpt,
    bad_input,
    check_format,
    err,
    fail,
    open_database,
    out,
    print_json,
    refuse_paths_outside_root,
    run_async,
    settings_or_exit,
    task_request,
)
from aadap.cli._errors import VERBOSE, handle
from aadap.cli._prefect_env import prepare, start_local_server
from aadap.core.exceptions import AADAPError, InvalidRequestError, TaskNotFoundError
from aadap.core.states import TaskState

if TYPE_CHECKING:
    from aadap.core.config import Settings
    from aadap.core.requests import TaskRequest
    from aadap.db.session import Database
    from aadap.services.outcome import Orphan

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


def _example(name: str) -> str:
    from aadap.agents.examples import load_examples

    examples = load_examples(EXAMPLES_DIR)
    for example in examples:
        if example.name == name:
            return example.request
    return bad_input("--example", name, ", ".join(e.name for e in examples))


async def _reconcile_orphans(db: Database) -> list[Orphan]:
    """Close the trail of lifecycles whose local process died (kill -9, power loss)."""
    from aadap.services import outcome

    found = await outcome.reconcile(db)
    for orphan in found:
        err.print(f"reconciled orphaned task {orphan.task_id}: {orphan.reason}", highlight=False)
    return found


class _Progress:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.task_id: str | None = None
        self.state: TaskState | None = None
        self.addressed = False  # the run's Prefect UI address was printed

    def __call__(
        self, task_id: uuid.UUID, src: TaskState, dst: TaskState, reason: str | None
    ) -> None:
        if not self.addressed:
            self.addressed = True
            _print_run_address()
        self.task_id, self.state = str(task_id), dst
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


def _print_run_address() -> None:
    """Where the run can be watched in the Prefect UI (none on Prefect's per-command API)."""
    from prefect.runtime import flow_run
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    if ui and flow_run.id:
        err.print(f"  Prefect UI: {ui}/runs/flow-run/{flow_run.id}", highlight=False, markup=False)


def _print_summary(summary: Any, *, error_follows: bool) -> None:
    out.print(f"\ntask      {summary.task_id}", highlight=False)
    out.print(f"state     {summary.state}", highlight=False)
    from aadap.services.reports import usd

    compute = f"   compute runs {summary.compute_runs}" if summary.compute_runs else ""
    out.print(
        f"tokens    {summary.tokens_used}   cost {usd(summary.cost_usd)}   "
        f"LLM calls {summary.llm_calls}{compute}",
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
    if summary.error and not error_follows:
        err.print(f"\nstopped: {summary.error}", highlight=False, markup=False)


OptionalEnvironment = Annotated[
    str | None, typer.Option("--environment", help="SANDBOX or PRODUCTION [default: SANDBOX]")
]
OptionalPlatform = Annotated[
    str | None, typer.Option("--platform", help="local, databricks or fabric [default: local]")
]


def _refuse_with(given: str, others: dict[str, object]) -> None:
    """Exit 2 if any of ``others`` was given together with ``given``."""
    clash = [name for name, value in others.items() if value is not None]
    if clash:
        fail(
            InvalidRequestError(
                f"{clash[0]} cannot be given with {given}; allowed: {given} alone "
                f"({'it continues a recorded task' if given == '--resume' else 'it is the request'})",
                details={"field": clash[0]},
            )
        )


def _new_request(request: str | None, example: str | None, options: dict[str, Any]) -> TaskRequest:
    """The request of a new run, from its text or a bundled example (never both)."""
    if example is not None:
        _refuse_with("--example", {"a request text": request})
        request = _example(example)
        # the bundled examples read the bundled data: their data root is their folder
        os.environ["AADAP_DATA_ROOT"] = str(EXAMPLES_DIR)
    if request is None:
        bad_input("request", None, "a request text argument, or --example NAME")
    return task_request(
        request,
        environment="SANDBOX" if options["environment"] is None else options["environment"],
        platform="local" if options["platform"] is None else options["platform"],
        connection=options["connection"],
        token_budget=options["token_budget"],
        usd_budget=options["usd_budget"],
        idempotency_key=options["idempotency_key"],
    )


async def _resumable(db: Database, ident: str, printer: _Progress) -> str:
    """The full id of the task ``--resume`` names (a full id or a unique prefix); the
    printer starts from its recorded state."""
    from aadap.services import views

    try:
        task = await views.find_task(db, ident.strip())
    except (InvalidRequestError, TaskNotFoundError) as exc:
        raise type(exc)(
            f"--resume={ident!r}: {exc.message}", details={"field": "--resume"}
        ) from exc
    printer.task_id, printer.state = str(task.id), TaskState(task.state)
    return str(task.id)


#: the top-level command of this module (``aadap run``)
commands = typer.Typer()


@commands.command("run")
def run(
    ctx: typer.Context,
    request: Annotated[str | None, typer.Argument(help="the request in plain language")] = None,
    example: Annotated[
        str | None, typer.Option(help="run a bundled example from examples/requests.toml")
    ] = None,
    environment: OptionalEnvironment = None,
    platform: OptionalPlatform = None,
    connection: ConnectionOpt = None,
    token_budget: TokenBudgetOpt = None,
    usd_budget: UsdBudgetOpt = None,
    idempotency_key: IdempotencyKeyOpt = None,
    resume: Annotated[
        str | None,
        typer.Option(
            help="continue an existing task (id or unique prefix) from its recorded state"
        ),
    ] = None,
    fmt: Format = "text",
    verbose: Annotated[bool, typer.Option(help="show Prefect's own logs and tracebacks")] = False,
) -> None:
    """Run one lifecycle in-process and show each step as it completes."""
    ctx.meta[VERBOSE] = verbose
    check_format(fmt)
    options = {"environment": environment, "platform": platform, "connection": connection,
               "token_budget": token_budget, "usd_budget": usd_budget,
               "idempotency_key": idempotency_key}  # fmt: skip
    payload: TaskRequest | None = None
    if resume is not None:
        _refuse_with("--resume", {"a request text": request, "--example": example} | {
            f"--{name.replace('_', '-')}": value for name, value in options.items()
        })  # fmt: skip
    else:
        payload = _new_request(request, example, options)
    settings = settings_or_exit()
    if payload is not None:
        refuse_paths_outside_root(payload, settings)
    if example is not None and platform in (None, "local") and connection is None:
        from aadap.cli._examples import refuse_unmet_needs

        refuse_unmet_needs(EXAMPLES_DIR, example, settings)
    # a person at a terminal waits minutes for an approval, not hours
    os.environ.setdefault(
        "AADAP_SAFETY_APPROVAL_TIMEOUT_SECONDS",
        str(settings.safety.foreground_approval_timeout_seconds),
    )
    prepare(settings, verbose=verbose)
    printer = _Progress()
    summary, error = run_async(lambda: _run_or_reuse(settings, printer, payload, resume))
    _finish(ctx, summary, error, fmt)


async def _run_or_reuse(
    settings: Settings, printer: _Progress, payload: TaskRequest | None, resume: str | None
) -> tuple[Any, BaseException | None]:
    """The lifecycle of ``aadap run``: resumed, reused (its idempotency key names a task) or
    new; its summary and the error it ended with."""
    async with open_database(settings) as db:
        task_id = None if resume is None else await _resumable(db, resume, printer)
        orphans = await _reconcile_orphans(db)
        reused = None if payload is None else await _idempotent_task(db, payload, settings)
        if reused is not None:
            from aadap.services.summary import summarise

            return await summarise(db, reused), None
        # only now, when a lifecycle will run: a refused --resume starts no server
        await asyncio.to_thread(start_local_server, settings)
        from aadap.cli._server_guard import start_embedded_server

        watchdogs = await start_embedded_server()  # noqa: F841 - kept until the run ends
        if orphans:  # their flow runs still show Running or Paused in Prefect
            from aadap.orchestration.flowruns import crash_orphaned_runs

            await crash_orphaned_runs(orphans)
        return await _lifecycle(db, printer, payload, task_id)


def _finish(ctx: typer.Context, summary: Any, error: BaseException | None, fmt: str) -> None:
    """Print the summary, then end as the run did: its error, exit 1 unless it completed."""
    if summary is not None:
        if fmt == "json":
            print_json(summary.model_dump(mode="json"))
        else:
            _print_summary(summary, error_follows=error is not None)
    if isinstance(error, Exception):
        handle(error, ctx, task_id=None if summary is None else str(summary.task_id))
    if error is not None:
        raise error
    if summary is None or summary.state != TaskState.COMPLETED.value:
        raise typer.Exit(EXIT_FAILURE)


async def _lifecycle(
    db: Database, printer: _Progress, payload: TaskRequest | None, task_id: str | None
) -> tuple[Any, BaseException | None]:
    """Run the flow; return its summary and the error it ended with (None if it completed)."""
    from prefect.client.schemas.objects import State

    from aadap.services import progress
    from aadap.services.summary import summarise
    from flows.task_lifecycle import task_lifecycle
    from flows.task_resume import task_resume

    announcer = asyncio.create_task(_announce_approvals(db, printer))
    try:
        with progress.listen(printer):
            if task_id is not None:
                state: State[Any] = await task_resume(task_id=task_id, return_state=True)
            else:
                assert payload is not None  # a new run has a request (``aadap run`` checks it)
                state = await task_lifecycle(request=payload, return_state=True)
    finally:
        announcer.cancel()
    if state.is_completed():
        return await state.result(), None
    error: BaseException | None = None
    try:
        await state.result()
    except Exception as exc:  # noqa: BLE001 - handed to the CLI's boundary with the summary
        error = exc
    flow_run_id = str(state.state_details.flow_run_id) if state.state_details.flow_run_id else None
    task_id = task_id or printer.task_id or await _task_of(db, flow_run_id)
    summary = None if task_id is None else await summarise(db, uuid.UUID(str(task_id)))
    return summary, error or AADAPError(state.message or f"the flow run ended {state.name}")


async def _announce_approvals(db: Database, printer: _Progress, poll: float = 1.0) -> None:
    """Say how to decide when the run waits for a human: the commands, the UI, the timeout."""
    from prefect.settings import PREFECT_UI_URL

    from aadap.services import views

    announced: set[str] = set()
    while True:
        await asyncio.sleep(poll)
        if printer.task_id is None or printer.state is not TaskState.IN_REVIEW:
            continue  # only a task in review can wait for a human
        waiting = [a for a in await views.pending_approvals(db)
                   if str(a.task_id) == printer.task_id and str(a.id) not in announced]  # fmt: skip
        for request in waiting:
            announced.add(str(request.id))
            ui = PREFECT_UI_URL.value()
            lines = [
                f"  ⏸ waiting for approval of request {request.id}: {request.operation_class} in "
                f"{request.environment} (risk {request.risk_level}); {request.reason}",
                f"    {_expiry(request.expires_at)}",
                f'    approve:  aadap approvals approve {request.id} --comment "why"',
                f'    reject:   aadap approvals reject {request.id} --comment "what to change"',
                f"    details:  aadap approvals show {request.id}",
            ]
            if ui and request.flow_run_id:
                lines.append(f"    Prefect UI: {ui}/runs/flow-run/{request.flow_run_id}")
            err.print("\n".join(lines), highlight=False, markup=False)


def _expiry(expires_at: dt.datetime | None) -> str:
    if expires_at is None:
        return "no timeout"
    at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=dt.UTC)
    minutes = max(0, round((at - dt.datetime.now(dt.UTC)).total_seconds() / 60))
    return (
        f"times out in {minutes} min (at {at:%H:%M} UTC): the code is then not deployed "
        "and the run fails with APPROVAL_EXPIRED"
    )


async def _idempotent_task(
    db: Database, payload: TaskRequest, settings: Settings
) -> uuid.UUID | None:
    """The task the request's idempotency key already names (nothing runs again), or
    None; a key naming a task made from another request is refused before any run."""
    from aadap.services import tasks

    task = await tasks.of_idempotency_key(db, payload, settings)
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
    from aadap.services import tasks

    found = None if flow_run_id is None else await tasks.of_flow_run(db, flow_run_id)
    return None if found is None else str(found)


__all__ = ["commands", "run"]
