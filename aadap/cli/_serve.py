"""``aadap serve`` (every deployment from one process) and ``aadap submit`` (a run through the Prefect API)."""

from __future__ import annotations

import asyncio
import os
import uuid
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
from aadap.cli._prefect_env import prepare, reachable_api
from aadap.core.exceptions import (
    ConfigurationError,
    InvalidRequestError,
)
from aadap.core.states import TERMINAL_STATES

if TYPE_CHECKING:
    from aadap.core.config import Settings
    from aadap.core.requests import TaskRequest


async def _ready_database(settings: Settings) -> None:
    async with open_database(settings):
        pass


async def _follow(
    settings: Settings, flow_run_id: uuid.UUID, poll: float
) -> tuple[str | None, Any]:
    """Print each new state transition of the run's task until the flow run ends."""
    from prefect.client.orchestration import get_client

    from aadap.db.session import Database
    from aadap.services import views
    from aadap.services.summary import summarise

    db = Database(settings)
    seen = 0
    try:
        async with get_client() as client:
            while True:
                run = await client.read_flow_run(flow_run_id)
                task = await views.run_trail(db, str(flow_run_id))
                trail = [] if task is None else task.transitions
                for t in trail[seen:]:
                    err.print(
                        f"  {t.from_state:>20} → {t.to_state:<20} {t.triggered_by}",
                        highlight=False,
                        markup=False,
                    )
                seen = len(trail)
                state = run.state
                if state is not None and state.is_final():
                    summary = None if task is None else await summarise(db, task.task_id)
                    return state.name, summary
                if (
                    state is not None
                    and state.is_paused()
                    and task is not None
                    and task.state not in TERMINAL_STATES
                ):
                    err.print(
                        f"  … waiting for approval: `aadap approvals list` (flow run {state.name})",
                        highlight=False, markup=False,
                    )  # fmt: skip
                await asyncio.sleep(poll)
    finally:
        await db.dispose()


def say(line: str) -> None:
    err.print(line, highlight=False, markup=False)


#: the top-level commands of this module (``aadap serve``, ``aadap submit``)
commands = typer.Typer()


@commands.command("serve")
def serve(
    limit: Annotated[int | None, typer.Option(min=1, help="most flow runs at once")] = None,
) -> None:
    """Serve every AADAP deployment from this process against the configured Prefect API."""
    settings = settings_or_exit()
    # recorded for the runs it spawns, whatever started them (UI, API, schedule, submit)
    os.environ["AADAP_DATA_ROOT"] = str(settings.resolved_data_root)
    from aadap.orchestration.served import SERVE_PID_ENV

    os.environ[SERVE_PID_ENV] = str(os.getpid())  # its runs leave its process group
    say(
        f"data root: {settings.resolved_data_root} (relative data paths in requests "
        "resolve here; AADAP_DATA_ROOT)"
    )
    prepare(settings, verbose=True)
    # the runner's own setting (whole seconds) wins if set; its query_seconds takes fractions
    poll = None if "PREFECT_RUNNER_POLL_FREQUENCY" in os.environ else (
        settings.schedules.runner_poll_seconds)  # fmt: skip
    from prefect.settings import PREFECT_API_URL

    from aadap.cli._serve_runner import only_server, serve_gracefully
    from deployments import serve as served

    api_url = str(PREFECT_API_URL.value() or "embedded")
    try:
        served.check_schedules(settings)
        # before any work, so a second ``aadap serve`` is refused at once
        with only_server(
            api_url, handover_seconds=settings.schedules.serve_handover_seconds, say=say
        ) as status:
            run_async(lambda: _ready_database(settings))
            deployments = served.build(settings)
            serve_gracefully(
                deployments,
                status=status,
                api_url=api_url,
                limit=limit,
                query_seconds=poll,
                say=say,
            )
    except ConfigurationError as exc:
        fail(exc)


@commands.command("submit")
def submit(
    request: Annotated[str, typer.Argument(help="the request in plain language")],
    environment: EnvironmentOpt = "SANDBOX",
    platform: PlatformOpt = "local",
    connection: ConnectionOpt = None,
    token_budget: TokenBudgetOpt = None,
    usd_budget: UsdBudgetOpt = None,
    idempotency_key: IdempotencyKeyOpt = None,
    wait: Annotated[
        bool, typer.Option(help="follow the run to its end; exit non-zero unless it completes")
    ] = False,
    fmt: Format = "text",
) -> None:
    """Create a task-lifecycle flow run through the Prefect API (``aadap serve`` or a worker runs it)."""
    check_format(fmt)
    settings = settings_or_exit()
    payload = task_request(
        request, environment=environment, platform=platform, connection=connection,
        token_budget=token_budget, usd_budget=usd_budget,
        idempotency_key=idempotency_key,
    )  # fmt: skip  # no working_dir: the served run resolves paths against its data root
    prepare(settings)
    result = run_async(lambda: _submit(settings, payload, fmt=fmt, wait=wait))
    if fmt == "json":
        print_json(result)
    if wait:
        summary = result.get("summary") or {}
        if fmt == "text":
            out.print(
                f"flow run {result['state']}; task {summary.get('task_id')} {summary.get('state')}",
                highlight=False,
            )
            if summary.get("error"):
                err.print(f"stopped: {summary['error']}", highlight=False, markup=False)
        if result["state"] != "Completed":
            raise typer.Exit(EXIT_FAILURE)


async def _submit(
    settings: Settings, payload: TaskRequest, *, fmt: str, wait: bool
) -> dict[str, Any]:
    """Create the flow run of ``payload`` (and, with ``wait``, follow it to its end)."""
    from prefect.deployments import arun_deployment
    from prefect.settings import PREFECT_UI_URL

    from deployments.serve import lifecycle_deployment

    await reachable_api(required=True)
    parameters = {"request": payload.model_dump(mode="json", exclude_none=True)}
    try:
        flow_run = await arun_deployment(lifecycle_deployment(), parameters=parameters, timeout=0)
    except (ValueError, RuntimeError) as exc:
        raise InvalidRequestError(f"the Prefect API refused the run: {exc}") from exc
    ui = PREFECT_UI_URL.value()
    result: dict[str, Any] = {
        "flow_run_id": str(flow_run.id),
        "ui_url": f"{ui}/runs/flow-run/{flow_run.id}" if ui else None,
    }
    if fmt == "text":
        out.print(
            f"flow run {flow_run.id}  {result['ui_url'] or ''}",
            highlight=False,
            markup=False,
        )
    if wait:
        final, summary = await _follow(
            settings, flow_run.id, settings.schedules.runner_poll_seconds
        )
        result["state"] = final
        result["summary"] = None if summary is None else summary.model_dump(mode="json")
    return result


__all__ = ["commands", "serve", "submit"]
