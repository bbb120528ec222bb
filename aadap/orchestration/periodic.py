"""The Prefect-aware side of the periodic flows: ``cost-report``, ``budget-watch``, ``reconcile``.

The services compute (``reports``, ``budget_watch``, ``maintenance``,
``outcome``); this module publishes what Prefect should show or act on:

* the cost report as a table artifact (:data:`REPORT_TABLE_KEY`, every line of
  the CSV) and a markdown artifact (:data:`REPORT_MARKDOWN_KEY`); the keys are
  stable, so the UI keeps one versioned history per key;
* one Prefect event per budget alert row, named ``aadap.budget.threshold`` or
  ``aadap.budget.hard-limit``, about the resource ``aadap.budget.<period>``,
  with ``percent``/``spend``/``limit`` in the payload, for automations;
* :func:`reconcile`, one pass for the ``reconcile`` flow and ``aadap reconcile`` alike,
  with :func:`flow_run_ended`, the probe ``outcome.reconcile`` uses to ask the
  Prefect API whether a lifecycle's flow run has ended.

Each ``run_*`` function is the body of one flow in ``flows/`` and runs inside
its flow run (it logs through the run logger).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
import zoneinfo
from decimal import Decimal
from typing import Any

from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact
from prefect.events import emit_event
from prefect.logging import get_run_logger
from pydantic import BaseModel

from aadap.core.config import Settings
from aadap.db.session import Database
from aadap.orchestration import bound_runtime
from aadap.orchestration.flowruns import crash_orphaned_runs, flow_run_ended, flow_run_state
from aadap.services import approvals, budget_watch, maintenance, outcome, reports
from aadap.services.budget_watch import Alert, PeriodSpend
from aadap.services.maintenance import ExpiredApproval
from aadap.services.reports import CostLine, CostReport, Grouping, Period, usd

REPORT_TABLE_KEY = "aadap-cost-report"
REPORT_MARKDOWN_KEY = "aadap-cost-report-summary"
EVENT_NAMES = {
    budget_watch.THRESHOLD_EVENT: "aadap.budget.threshold",
    budget_watch.HARD_LIMIT_EVENT: "aadap.budget.hard-limit",
}
_MARKDOWN_ROWS: dict[Grouping, int] = {"day": 31, "task": 25}
_CURRENT: tuple[tuple[str, Period], ...] = (
    ("today", "day"),
    ("this week", "week"),
    ("this month", "month"),
)
_SECTIONS: tuple[Grouping, ...] = ("month", "week", "day", "agent", "model", "task")


# --- cost-report --------------------------------------------------------------------


class CostReportSummary(BaseModel):
    """What the ``cost-report`` flow returns."""

    report_date: dt.date
    timezone: str
    window_start: dt.datetime
    window_end: dt.datetime
    calls: int
    unpriced_calls: int
    total_usd: Decimal
    today_usd: Decimal
    week_usd: Decimal
    month_usd: Decimal
    csv_path: str
    artifact_keys: list[str]


#: the longest ``item`` cell of the table artifact (a task's id and title are cut to fit)
_ITEM_CHARS = 48


def _item(line: CostLine) -> str:
    """A row's key as the table shows it: a task by its short id and title, cut to fit."""
    if line.grouping == "task" and line.label:
        text = f"{line.key[:8]} {line.label}"
    elif line.label:
        text = f"{line.key} {line.label}"
    else:
        text = line.key
    return text if len(text) <= _ITEM_CHARS else text[: _ITEM_CHARS - 1] + "…"


def table_rows(report: CostReport) -> list[dict[str, Any]]:
    """The table artifact: five narrow columns that fit a 1,440 px screen, one row per
    line of the CSV, the exact cost; tokens in and out, unpriced calls and full task ids
    are in the markdown artifact and the CSV."""
    return [
        {
            "group": line.grouping,
            "item": _item(line),
            "calls": line.calls,
            "tokens": line.tokens_in + line.tokens_out,
            "cost_usd": format(line.cost_usd, "f"),
        }
        for line in report.lines
    ]


def window_explained(report: CostReport) -> str:
    """What the report's dates mean, in words a reader needs no source code for."""
    tz = zoneinfo.ZoneInfo(report.timezone)
    start = report.window_start.astimezone(tz)
    local = report.generated_at.astimezone(tz)
    months = (local.year - start.year) * 12 + local.month - start.month + 1
    return (
        f"The report covers {start:%Y-%m-%d} to {local:%Y-%m-%d %H:%M} ({report.timezone}): "
        f"this month and the {months - 1} before it, from the first day of {start:%B %Y}, "
        "so each month's figure is a whole month (the current one to date). Weeks are ISO "
        "weeks (Monday to Sunday): the first one may begin before the window and count only "
        "its days inside it. Days, weeks and months are local to the time zone above; "
        '"today", "this week" and "this month" end now.'
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(grouping: Grouping, lines: list[CostLine]) -> list[str]:
    """A markdown table; long day lists keep the latest days, long task lists the costliest."""
    limit = _MARKDOWN_ROWS.get(grouping)
    shown = lines if limit is None else (lines[-limit:] if grouping == "day" else lines[:limit])
    heading = f"## By {grouping}"
    if len(shown) < len(lines):
        which = "the latest days" if grouping == "day" else "the costliest tasks"
        heading += f" ({which}: {len(shown)} of {len(lines)}; all in the CSV)"
    out = [heading, "", "| key | calls | tokens in | tokens out | unpriced | cost |", "|---|--:|--:|--:|--:|--:|"]  # fmt: skip
    for line in shown:
        key = f"{line.key} · {line.label}" if line.label else line.key
        out.append(
            f"| {_cell(key)} | {line.calls} | {line.tokens_in} | {line.tokens_out} "
            f"| {line.unpriced_calls} | {usd(line.cost_usd)} |"
        )
    if not lines:
        out.append("| (no spend) | 0 | 0 | 0 | 0 | $0.00 |")
    return [*out, ""]


def markdown(report: CostReport, csv_file: str) -> str:
    tz = report.timezone
    local = report.generated_at.astimezone(zoneinfo.ZoneInfo(tz))
    start = report.window_start.astimezone(zoneinfo.ZoneInfo(tz))
    total = report.total
    lines = [
        f"# AADAP cost report {report.report_date.isoformat()} ({tz})",
        "",
        f"**Total {usd(total.cost_usd)}** from {start:%Y-%m-%d %H:%M} to {local:%Y-%m-%d %H:%M} "
        f"· {total.calls} calls · {total.tokens_in} tokens in · {total.tokens_out} tokens out"
        + (f" · **{total.unpriced_calls} unpriced calls**" if total.unpriced_calls else ""),
        "",
        window_explained(report),
        "",
        "Calls count every cost row: LLM calls and priced platform runs alike, as "
        "`aadap costs` counts them.",
        "",
        "| period | key | spend so far |",
        "|---|---|--:|",
    ]
    for name, period in _CURRENT:
        key = reports.period_key(period, local)
        lines.append(f"| {name} | {key} | {usd(report.spend_in(period))} |")
    lines.append("")
    for grouping in _SECTIONS:
        lines += _section(grouping, report.group(grouping))
    lines.append(f"CSV: `{csv_file}`")
    return "\n".join(lines)


async def publish_cost_report(report: CostReport, csv_file: str) -> list[str]:
    """Create the table and markdown artifacts in the current flow run; returns their keys."""
    description = f"AADAP spend {report.report_date.isoformat()} ({report.timezone})"
    await acreate_table_artifact(
        key=REPORT_TABLE_KEY, table=table_rows(report), description=description
    )
    await acreate_markdown_artifact(
        key=REPORT_MARKDOWN_KEY, markdown=markdown(report, csv_file), description=description
    )
    return [REPORT_TABLE_KEY, REPORT_MARKDOWN_KEY]


async def run_cost_report(*, months: int = 3, now: dt.datetime | None = None) -> CostReportSummary:
    """Build the report, write the CSV under ``AADAP_HOME/reports/``, publish the artifacts."""
    logger = get_run_logger()
    async with bound_runtime.open_runtime() as rt:
        report = await reports.build(rt.db, rt.settings, now=now, months=months)
        directory = reports.reports_dir(rt.settings)
    path = await asyncio.to_thread(reports.write_csv, report, directory)
    keys = await publish_cost_report(report, str(path))
    total = report.total
    logger.info(
        "cost report %s (%s): %s over %s calls; CSV %s",
        report.report_date, report.timezone, usd(total.cost_usd), total.calls, path,
    )  # fmt: skip
    return CostReportSummary(
        report_date=report.report_date,
        timezone=report.timezone,
        window_start=report.window_start,
        window_end=report.window_end,
        calls=total.calls,
        unpriced_calls=total.unpriced_calls,
        total_usd=total.cost_usd,
        today_usd=report.spend_in("day"),
        week_usd=report.spend_in("week"),
        month_usd=report.spend_in("month"),
        csv_path=str(path),
        artifact_keys=keys,
    )


# --- budget-watch -------------------------------------------------------------------


class EmittedEvent(BaseModel):
    id: uuid.UUID
    event: str
    resource_id: str
    payload: dict[str, Any]


class BudgetWatchSummary(BaseModel):
    """What the ``budget-watch`` flow returns."""

    checked_at: dt.datetime
    timezone: str
    periods: list[PeriodSpend]
    alerts: list[Alert]
    events: list[EmittedEvent]
    refusing_new_tasks: bool


def emit_alert(alert: Alert, *, timezone: str, checked_at: dt.datetime) -> EmittedEvent | None:
    """One Prefect event for one alert row; None when this process emits no events."""
    resource_id = f"aadap.budget.{alert.period}"
    payload: dict[str, Any] = {
        "period": alert.period,
        "period_key": alert.period_key,
        "threshold": alert.threshold,
        "percent": None if alert.percent is None else str(alert.percent),
        "spend": str(alert.spend_usd),
        "limit": str(alert.limit_usd),
        "hard_limit": str(alert.hard_limit_usd),
        "currency": "USD",
        "timezone": timezone,
        "checked_at": checked_at.isoformat(),
        "task_log_id": str(alert.log_id),
        "message": alert.message,
    }
    event = emit_event(
        event=EVENT_NAMES[alert.event],
        resource={
            "prefect.resource.id": resource_id,
            "prefect.resource.name": f"AADAP {alert.period} budget",
            "aadap.budget.period": alert.period,
        },
        payload=payload,
    )
    if event is None:
        return None
    return EmittedEvent(id=event.id, event=event.event, resource_id=resource_id, payload=payload)


async def run_budget_watch(*, now: dt.datetime | None = None) -> BudgetWatchSummary:
    """Check spend, write new alert rows, emit one event per new row."""
    logger = get_run_logger()
    async with bound_runtime.open_runtime() as rt:
        status = await budget_watch.watch(rt.db, rt.settings, now=now)
    for p in status.periods:
        limit = "no budget" if p.limit_usd is None else f"of {usd(p.limit_usd)} ({p.percent}%)"
        logger.info("%s %s: spent %s %s", p.period, p.key, usd(p.spend_usd), limit)
    events = []
    for alert in status.alerts:
        logger.log(logging.getLevelNamesMapping()[alert.level.value], "%s", alert.message)
        emitted = emit_alert(alert, timezone=status.timezone, checked_at=status.checked_at)
        if emitted is None:
            logger.warning("no Prefect event emitted for %s: events are off here", alert.message)
        else:
            events.append(emitted)
    return BudgetWatchSummary(
        checked_at=status.checked_at,
        timezone=status.timezone,
        periods=status.periods,
        alerts=status.alerts,
        events=events,
        refusing_new_tasks=status.refusing_new_tasks,
    )


# --- reconcile ----------------------------------------------------------------------


class OrphanedRun(BaseModel):
    task_id: uuid.UUID
    state: str
    flow_run_id: str | None
    reason: str
    closed_as: str = "FAILED"  # CANCELLED when the run was cancelled in Prefect


class ReconcileSummary(BaseModel):
    """What one reconcile pass did (the ``reconcile`` flow returns it; ``aadap reconcile``
    prints it)."""

    checked_at: dt.datetime
    expired_approvals: list[ExpiredApproval]
    orphaned: list[OrphanedRun]
    closed_approvals: list[uuid.UUID] = []
    logs_deleted: int
    retention_days: int


async def reconcile(
    db: Database, settings: Settings, *, now: dt.datetime | None = None
) -> ReconcileSummary:
    """One reconcile pass, the same for the scheduled flow and ``aadap reconcile``:
    expired approvals first (their tasks fail as APPROVAL_EXPIRED, the precise reason),
    then orphaned lifecycles (asking the Prefect API about every run whose process is
    not known to be alive here: :func:`flow_run_ended`), then the PENDING requests of
    tasks that ended anyway, then log retention."""
    checked_at = reports.resolve_now(now)
    expired = await maintenance.expire_approvals(db, now=checked_at)
    orphans = await outcome.reconcile(db, flow_run_ended)
    await crash_orphaned_runs(orphans)
    closed = await approvals.close_for_finished_tasks(db, by=maintenance.ACTOR)
    retention = settings.retention_days
    deleted = await maintenance.purge_logs(db, retention_days=retention, now=checked_at)
    return ReconcileSummary(
        checked_at=checked_at,
        expired_approvals=expired,
        orphaned=[
            OrphanedRun(
                task_id=o.task_id,
                state=o.state,
                flow_run_id=o.flow_run_id,
                reason=o.reason,
                closed_as="CANCELLED" if o.cancelled else "FAILED",
            )
            for o in orphans
        ],
        closed_approvals=closed,
        logs_deleted=deleted,
        retention_days=retention,
    )


async def run_reconcile(*, now: dt.datetime | None = None) -> ReconcileSummary:
    """The ``reconcile`` flow's body: :func:`reconcile`, told in the run log."""
    logger = get_run_logger()
    async with bound_runtime.open_runtime() as rt:
        summary = await reconcile(rt.db, rt.settings, now=now)
    for item in summary.expired_approvals:
        logger.warning("approval %s expired; task %s (%s)", item.approval_id, item.task_id,
                       "marked FAILED" if item.task_failed else f"already {item.task_state}")  # fmt: skip
    for orphan in summary.orphaned:
        logger.warning("task %s orphaned in %s: %s", orphan.task_id, orphan.state, orphan.reason)
    for approval_id in summary.closed_approvals:
        logger.warning("approval %s closed: its task had already ended", approval_id)
    logger.info(
        "deleted %s task_logs row(s) older than %s days",
        summary.logs_deleted, summary.retention_days,
    )  # fmt: skip
    return summary


__all__ = [
    "EVENT_NAMES",
    "REPORT_MARKDOWN_KEY",
    "REPORT_TABLE_KEY",
    "BudgetWatchSummary",
    "CostReportSummary",
    "EmittedEvent",
    "OrphanedRun",
    "ReconcileSummary",
    "emit_alert",
    "flow_run_ended",
    "flow_run_state",
    "markdown",
    "publish_cost_report",
    "reconcile",
    "run_budget_watch",
    "run_cost_report",
    "run_reconcile",
    "table_rows",
]
