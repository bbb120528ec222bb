"""``aadap tasks list|show``, ``aadap logs``, ``aadap costs``, ``aadap reconcile``: read the trail."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from aadap.cli._common import (
    Format,
    bad_input,
    check_choice,
    check_format,
    clip,
    enum_option,
    minute,
    out,
    print_json,
    settings_or_exit,
    table,
    with_database,
)
from aadap.core.enums import LogLevel
from aadap.core.states import TaskState

if TYPE_CHECKING:
    from aadap.db.session import Database
    from aadap.orchestration import periodic
    from aadap.services import costs, views

GROUPINGS = ("task", "agent", "model", "day", "week", "month")


SINCE_ALLOWED = (
    "an ISO date/time (2026-11-01, 2026-11-01T08:00+00:00) or an age like 7d, 12h, 30m, 2w"
)
_AGE = re.compile(r"(\d{1,9})([dhmw])")
_AGE_UNITS = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}


def parse_since(value: str | None, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """``--since``: an aware datetime, or exit 2 naming the value and what is allowed."""
    if value is None:
        return None
    now = now or dt.datetime.now(dt.UTC)
    age = _AGE.fullmatch(value.strip())
    try:
        if age is not None:
            return now - dt.timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
        parsed = dt.datetime.fromisoformat(value.strip())
    except OverflowError:
        bad_input("--since", value, f"an age that ends after year 1; {SINCE_ALLOWED}")
    except ValueError:
        bad_input("--since", value, SINCE_ALLOWED)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


tasks_app = typer.Typer(help="List and inspect tasks.", no_args_is_help=True)
#: the top-level commands of this module (``aadap logs``, ``costs``, ``reconcile``)
commands = typer.Typer()


@tasks_app.command("list")
def list_tasks(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    state: Annotated[str | None, typer.Option(help="only tasks in this state")] = None,
    fmt: Format = "text",
) -> None:
    """The newest tasks first."""
    from aadap.services import views

    check_format(fmt)
    wanted = None if state is None else enum_option(TaskState, "--state", state)
    settings = settings_or_exit()
    found = with_database(settings, lambda db: views.recent_tasks(db, limit=limit, state=wanted))
    rows: list[dict[str, Any]] = [
        {"id": str(t.id), "state": t.state, "title": t.title, "tokens": t.tokens_used,
         "cost_usd": _plain(t.cost_usd), "created_at": t.created_at.isoformat()}
        for t in found
    ]  # fmt: skip
    if fmt == "json":
        print_json(rows)
        return
    shown = [
        {**r, "id": r["id"][:8], "title": clip(r["title"], 60),
         "created_at": minute(r["created_at"])}
        for r in rows
    ]  # fmt: skip
    out.print(
        table(["id", "state", "title", "tokens", "cost_usd", "created_at"], shown, names={"title"})
    )


@tasks_app.command("show")
def show_task(
    task_id: Annotated[str, typer.Argument(help="task id or a unique prefix (≥ 6 characters)")],
    fmt: Format = "text",
) -> None:
    """One task: its state trail, artifacts, approvals and executions."""
    from aadap.services import views

    check_format(fmt)
    settings = settings_or_exit()
    data = _task_data(with_database(settings, lambda db: views.task_detail(db, task_id)))
    if fmt == "json":
        print_json(data)
    else:
        _print_task(data)


def _task_data(task: views.TaskDetail) -> dict[str, Any]:
    """``tasks show --format json``: the task and its sections."""
    return {
        "id": str(task.id), "title": task.title, "request": task.request, "state": task.state,
        "environment": task.environment, "platform": task.platform, "tokens_used": task.tokens_used,
        "token_budget": task.token_budget, "cost_usd": _plain(task.cost_usd),
        "cost_budget_usd": _plain(task.cost_budget_usd), "correlation_id": task.correlation_id,
        "flow_run_id": task.flow_run_id,
        "transitions": [{"seq": t.sequence_num, "from": t.from_state, "to": t.to_state,
                         "by": t.triggered_by, "reason": t.reason, "at": t.created_at.isoformat()}
                        for t in task.transitions],
        "artifacts": [{"type": a.artifact_type, "name": a.name, "version": a.version,
                       "sha256": a.content_hash[:12]} for a in task.artifacts],
        "approvals": [{"id": str(a.id), "status": a.status, "operation_class": a.operation_class,
                       "risk": a.risk_level, "decided_by": a.decided_by, "code_sha256": a.code_hash[:12]}
                      for a in task.approvals],
        "executions": [{"id": str(e.id), "status": e.status, "rows_affected": e.rows_affected,
                        "duration_ms": e.duration_ms, "error": e.error} for e in task.executions],
    }  # fmt: skip


def _print_task(data: dict[str, Any]) -> None:
    """``tasks show`` as text: the task's fields, its trail, then each non-empty section."""
    for key in (
        "id",
        "title",
        "state",
        "environment",
        "platform",
        "tokens_used",
        "token_budget",
        "cost_usd",
        "cost_budget_usd",
        "flow_run_id",
    ):
        out.print(f"{key:16} {data[key]}", highlight=False, markup=False)
    out.print("\ntransitions:", highlight=False)
    for t in data["transitions"]:
        reason = f"  ({clip(t['reason'], 80)})" if t["reason"] else ""
        out.print(
            f"  {t['seq']:3} {t['from']:>20} → {t['to']:<20} by {t['by']}{reason}",
            highlight=False,
            markup=False,
        )
    for section in ("artifacts", "approvals", "executions"):
        if data[section]:
            out.print(f"\n{section}:", highlight=False)
            for item in data[section]:
                out.print(
                    "  " + "  ".join(f"{k}={v}" for k, v in item.items()),
                    highlight=False,
                    markup=False,
                )


@commands.command("logs")
def show_logs(
    task_id: Annotated[str, typer.Argument(help="task id or a unique prefix")],
    level: Annotated[
        str | None, typer.Option(help="minimum level: DEBUG, INFO, WARNING, ERROR, CRITICAL")
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="only rows whose message or event contains this")
    ] = None,
    fmt: Format = "text",
) -> None:
    """The task's ``task_logs`` rows, oldest first."""
    from aadap.services import views

    check_format(fmt)
    min_level = None if level is None else enum_option(LogLevel, "--level", level)
    settings = settings_or_exit()
    found = with_database(
        settings, lambda db: views.task_logs(db, task_id, min_level=min_level, search=search)
    )
    rows: list[dict[str, Any]] = [
        {"created_at": r.created_at.isoformat(), "level": r.level, "event": r.event, "message": r.message,
         "source": r.source, "error_code": r.error_code, "severity": r.severity, "attempt": r.attempt,
         "flow_run_id": r.flow_run_id, "task_run_id": r.task_run_id, "correlation_id": r.correlation_id}
        for r in found
    ]  # fmt: skip
    if fmt == "json":
        print_json(rows)
        return
    for r in rows:
        code = f" [{r['error_code']}]" if r["error_code"] else ""
        out.print(
            f"{r['created_at'][:23]} {r['level']:8} {r['event']:20}{code} {r['message']}",
            highlight=False,
            markup=False,
        )


@commands.command("costs")
def show_costs(
    by: Annotated[str, typer.Option(help="task, agent, model, day, week or month")] = "agent",
    since: Annotated[str | None, typer.Option(help="ISO date/time or an age like 7d, 12h")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
) -> None:
    """Spend from ``cost_records``, grouped."""
    from aadap.services import views

    check_choice("--by", by, GROUPINGS)
    check_format(fmt, ("table", "csv", "json"))
    start = parse_since(since)
    settings = settings_or_exit()
    grouping = cast("costs.Grouping", by)
    found = with_database(
        settings,
        lambda db: views.spend(
            db, by=grouping, since=start, tz=zoneinfo.ZoneInfo(settings.timezone)
        ),
    )
    titled = by == "task"  # a task is shown by its id and its title, as `tasks list` shows it
    fields = [by, *(["title"] if titled else []), "calls", "tokens_in", "tokens_out", "cost_usd",
              "unpriced_calls"]  # fmt: skip
    rows: list[dict[str, Any]] = [
        {by: r.key, **({"title": r.title} if titled else {}), "calls": r.calls,
         "tokens_in": r.tokens_in, "tokens_out": r.tokens_out, "cost_usd": _plain(r.cost_usd),
         "unpriced_calls": r.unpriced_calls}
        for r in found
    ]  # fmt: skip
    if fmt == "json":
        print_json(rows)
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        typer.echo(buffer.getvalue(), nl=False)
    else:
        for r in rows:
            if r.get("title") is not None:  # a task's id (not the rows of a deleted one)
                r[by] = r[by][:8]  # the prefix `aadap tasks show` takes, as in `tasks list`
        out.print(table(fields, rows, names={"title", by} - {"task"}))


@commands.command(
    "reconcile",
    help="Close what nobody else will: lifecycles whose process died or whose flow run ended "
    "(asking the Prefect API, as the scheduled reconcile flow does), expired approvals and "
    "the requests of finished tasks, and logs past AADAP_RETENTION_DAYS.",
    short_help="Close what nobody else will: dead lifecycles, expired approvals, old logs.",
)
def reconcile() -> None:
    """Close what nobody else will (the command's help says what)."""
    from aadap.cli._prefect_env import prepare

    settings = settings_or_exit()
    prepare(settings)

    async def go(db: Database) -> periodic.ReconcileSummary:
        from aadap.orchestration import periodic

        return await periodic.reconcile(db, settings)

    summary = with_database(settings, go)
    for orphan in summary.orphaned:
        out.print(
            f"{orphan.task_id}  {orphan.state} → {orphan.closed_as}  ({orphan.reason})",
            highlight=False,
        )
    for item in summary.expired_approvals:
        out.print(
            f"approval {item.approval_id} expired; task {item.task_id} "
            + ("→ FAILED" if item.task_failed else f"had already ended {item.task_state}"),
            highlight=False,
        )
    for approval_id in summary.closed_approvals:
        out.print(
            f"approval {approval_id} → CANCELLED (its task had already ended)",
            highlight=False,
        )
    counts = {
        "reconciled": len(summary.orphaned),
        "expired_approvals": len(summary.expired_approvals),
        "closed_approvals": len(summary.closed_approvals),
        "logs_deleted": summary.logs_deleted,
    }
    out.print(json.dumps(counts), highlight=False)
