"""``aadap tasks list|show``, ``aadap logs``, ``aadap costs``, ``aadap reconcile``: read the trail."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table
from rich.text import Text

from aadap.cli._common import (
    Format,
    bad_input,
    check_choice,
    check_format,
    enum_option,
    out,
    print_json,
    settings_or_exit,
    with_database,
)
from aadap.core.enums import LogLevel
from aadap.core.states import TaskState

if TYPE_CHECKING:
    from aadap.db.session import Database
    from aadap.services import outcome

GROUPINGS = ("task", "agent", "model", "day", "week", "month")


def _parse_since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    if value[:-1].isdigit() and value[-1] in units:
        try:
            return dt.datetime.now(dt.UTC) - dt.timedelta(**{units[value[-1]]: int(value[:-1])})
        except OverflowError:  # before year 1: everything
            return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        bad_input(
            "--since",
            value,
            "an ISO date/time (2026-11-01, 2026-11-01T08:00+00:00) or an age like 7d, 12h, 30m",
        )
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def register(app: typer.Typer) -> None:
    tasks_app = typer.Typer(help="List and inspect tasks.", no_args_is_help=True)
    app.add_typer(tasks_app, name="tasks")

    @tasks_app.command("list")
    def list_tasks(
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
        state: Annotated[str | None, typer.Option(help="only tasks in this state")] = None,
        fmt: Format = "text",
    ) -> None:
        """The newest tasks first."""
        check_format(fmt)
        wanted = None if state is None else enum_option(TaskState, "--state", state)
        settings = settings_or_exit()

        async def go(db: Database) -> list[dict[str, Any]]:
            from aadap.services import tasks

            async with db.sessions() as session:
                rows = await tasks.list_recent(session, limit=limit, state=wanted)
            return [
                {"id": str(t.id), "state": t.current_state, "title": t.title, "tokens": t.tokens_used,
                 "cost_usd": _plain(t.cost_usd), "created_at": t.created_at.isoformat()}
                for t in rows
            ]  # fmt: skip

        rows = with_database(settings, go)
        if fmt == "json":
            print_json(rows)
            return
        table = Table("id", "state", "title", "tokens", "cost $", "created")
        for r in rows:
            table.add_row(
                r["id"][:8],
                r["state"],
                Text(r["title"][:60]),  # user text: never read as console markup
                str(r["tokens"]),
                r["cost_usd"],
                r["created_at"][:19],
            )
        out.print(table)

    @tasks_app.command("show")
    def show_task(
        task_id: Annotated[str, typer.Argument(help="task id or a unique prefix (≥ 6 characters)")],
        fmt: Format = "text",
    ) -> None:
        """One task: its state trail, artifacts, approvals and executions."""
        check_format(fmt)
        settings = settings_or_exit()

        async def go(db: Database) -> dict[str, Any]:
            from sqlalchemy import select

            from aadap.db.models import ApprovalRequest, Execution, StateTransition
            from aadap.services import artifacts, tasks

            async with db.sessions() as session:
                task = await tasks.find(session, task_id)
                trail = (await session.execute(
                    select(StateTransition).where(StateTransition.task_id == task.id).order_by(StateTransition.sequence_num)
                )).scalars().all()  # fmt: skip
                arts = await artifacts.for_task(session, task.id)
                approvals = (
                    (
                        await session.execute(
                            select(ApprovalRequest).where(ApprovalRequest.task_id == task.id)
                        )
                    )
                    .scalars()
                    .all()
                )
                runs = (
                    (await session.execute(select(Execution).where(Execution.task_id == task.id)))
                    .scalars()
                    .all()
                )
            return {
                "id": str(task.id), "title": task.title, "request": task.request, "state": task.current_state,
                "environment": task.environment, "platform": task.platform, "tokens_used": task.tokens_used,
                "token_budget": task.token_budget, "cost_usd": _plain(task.cost_usd),
                "cost_budget_usd": _plain(task.cost_budget_usd), "correlation_id": task.correlation_id,
                "flow_run_id": task.flow_run_id,
                "transitions": [{"seq": t.sequence_num, "from": t.from_state, "to": t.to_state, "by": t.triggered_by,
                                 "reason": t.reason, "at": t.created_at.isoformat()} for t in trail],
                "artifacts": [{"type": a.artifact_type, "name": a.name, "version": a.version,
                               "sha256": a.content_hash[:12]} for a in arts],
                "approvals": [{"id": str(a.id), "status": a.status, "operation_class": a.operation_class,
                               "risk": a.risk_level, "decided_by": a.decided_by, "code_sha256": a.code_hash[:12]}
                              for a in approvals],
                "executions": [{"id": str(e.id), "status": e.status, "rows_affected": e.rows_affected,
                                "duration_ms": e.duration_ms, "error": e.error} for e in runs],
            }  # fmt: skip

        data = with_database(settings, go)
        if fmt == "json":
            print_json(data)
            return
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
            reason = f"  ({t['reason'][:80]})" if t["reason"] else ""
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

    @app.command("logs")
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
        check_format(fmt)
        min_level = None if level is None else enum_option(LogLevel, "--level", level)
        settings = settings_or_exit()

        async def go(db: Database) -> list[dict[str, Any]]:
            from aadap.services import logs, tasks

            async with db.sessions() as session:
                task = await tasks.find(session, task_id)
                rows = await logs.fetch(
                    session, task_id=task.id, min_level=min_level, search=search
                )
            return [
                {"created_at": r.created_at.isoformat(), "level": r.level, "event": r.event, "message": r.message,
                 "source": r.source, "error_code": r.error_code, "severity": r.severity, "attempt": r.attempt,
                 "flow_run_id": r.flow_run_id, "task_run_id": r.task_run_id, "correlation_id": r.correlation_id}
                for r in rows
            ]  # fmt: skip

        rows = with_database(settings, go)
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

    @app.command("costs")
    def show_costs(
        by: Annotated[str, typer.Option(help="task, agent, model, day, week or month")] = "agent",
        since: Annotated[
            str | None, typer.Option(help="ISO date/time or an age like 7d, 12h")
        ] = None,
        fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    ) -> None:
        """Spend from ``cost_records``, grouped."""
        check_choice("--by", by, GROUPINGS)
        check_format(fmt, ("table", "csv", "json"))
        start = _parse_since(since)
        settings = settings_or_exit()

        async def go(db: Database) -> list[dict[str, Any]]:
            from aadap.services import costs

            async with db.sessions() as session:
                return await costs.summarise(
                    session,
                    by=cast(costs.Grouping, by),
                    since=start,
                    tz=zoneinfo.ZoneInfo(settings.timezone),
                )

        rows = [{k: _plain(v) for k, v in row.items()} for row in with_database(settings, go)]
        if fmt == "json":
            print_json(rows)
        elif fmt == "csv":
            buffer = io.StringIO()
            writer = csv.DictWriter(
                buffer,
                fieldnames=[by, "calls", "tokens_in", "tokens_out", "cost_usd", "unpriced_calls"],
            )
            writer.writeheader()
            writer.writerows(rows)
            typer.echo(buffer.getvalue(), nl=False)
        else:
            table = Table(by, "calls", "tokens in", "tokens out", "cost $", "unpriced")
            for r in rows:
                table.add_row(
                    Text(str(r[by])),  # agent and model names come from outside: not markup
                    str(r["calls"]),
                    str(r["tokens_in"]),
                    str(r["tokens_out"]),
                    r["cost_usd"],
                    str(r["unpriced_calls"]),
                )
            out.print(table)

    @app.command("reconcile")
    def reconcile() -> None:
        """Find lifecycles whose process died (kill -9, power loss) and close their trail."""
        settings = settings_or_exit()

        async def go(db: Database) -> list[outcome.Orphan]:
            from aadap.services import outcome

            return await outcome.reconcile(db)

        found = with_database(settings, go)
        for orphan in found:
            out.print(
                f"{orphan.task_id}  {orphan.state} → FAILED  ({orphan.reason})", highlight=False
            )
        out.print(json.dumps({"reconciled": len(found)}), highlight=False)
