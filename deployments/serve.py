"""Every AADAP deployment, built from settings, for ``aadap serve`` (one process, ``prefect.serve``).

``prefect.yaml`` declares the same deployments for the production path
(``prefect deploy --all`` then ``prefect worker start --pool aadap-process``).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, cast

from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval
from pydantic import ValidationError

from aadap.core.config import Settings
from aadap.core.exceptions import InvalidConfigurationError

DEPLOYMENT_NAMES = {
    "task-lifecycle": "task-lifecycle",
    "task-resume": "task-resume",
    "cost-report": "daily",
    "budget-watch": "every-few-minutes",
    "connection-health": "every-15-minutes",
    "reconcile": "hourly",
}


def check_schedules(settings: Settings) -> None:
    """Fail at start, with the variable named, rather than serve a schedule that never fires."""
    cron = settings.schedules.cost_report_cron
    try:
        CronSchedule(cron=cron, timezone=settings.timezone)
    except ValidationError as exc:
        raise InvalidConfigurationError(
            f"AADAP_SCHEDULES_COST_REPORT_CRON={cron!r} is not a valid cron expression; "
            "use five fields: minute hour day-of-month month day-of-week, e.g. '0 6 * * *'",
            details={"field": "AADAP_SCHEDULES_COST_REPORT_CRON", "value": cron},
        ) from exc


def build(settings: Settings) -> list[RunnerDeployment]:
    """The deployments ``aadap serve`` serves, with schedules in ``AADAP_TIMEZONE``."""
    from flows.budget_watch import budget_watch
    from flows.connection_health import connection_health
    from flows.cost_report import cost_report
    from flows.reconcile import reconcile
    from flows.task_lifecycle import task_lifecycle
    from flows.task_resume import task_resume

    check_schedules(settings)
    tz = settings.timezone
    sched = settings.schedules
    anchor = interval_anchor(tz)
    common: dict[str, Any] = {"tags": ["aadap"], "enforce_parameter_schema": True}
    return [
        _sync(
            task_lifecycle.to_deployment(
                name=DEPLOYMENT_NAMES["task-lifecycle"],
                description="Turn a plain-language request into validated, approved, deployed code.",
                **common,
            )
        ),
        _sync(
            task_resume.to_deployment(
                name=DEPLOYMENT_NAMES["task-resume"],
                description="Continue a recorded task that did not finish: recorded steps are "
                "restored, not redone.",
                **common,
            )
        ),
        _sync(
            cost_report.to_deployment(
                name=DEPLOYMENT_NAMES["cost-report"],
                schedules=[Cron(sched.cost_report_cron, timezone=tz)],
                description="Spend by day, week and month, by agent, model and task.",
                **common,
            )
        ),
        _sync(
            budget_watch.to_deployment(
                name=DEPLOYMENT_NAMES["budget-watch"],
                schedules=[Interval(sched.budget_watch_seconds, anchor_date=anchor, timezone=tz)],
                description="Daily and monthly spend against budgets; events at 50/80/100 %.",
                concurrency_limit=1,  # two overlapping watches could both write a threshold row
                **common,
            )
        ),
        _sync(
            connection_health.to_deployment(
                name=DEPLOYMENT_NAMES["connection-health"],
                schedules=[
                    Interval(sched.connection_health_seconds, anchor_date=anchor, timezone=tz)
                ],
                description="Test every active platform connection.",
                **common,
            )
        ),
        _sync(
            reconcile.to_deployment(
                name=DEPLOYMENT_NAMES["reconcile"],
                schedules=[Interval(sched.reconcile_seconds, anchor_date=anchor, timezone=tz)],
                description="Close orphaned lifecycles, expire approvals, apply log retention.",
                **common,
            )
        ),
    ]


def interval_anchor(tz: str) -> dt.datetime:
    """The fixed start that interval schedules count from: midnight of 2026-01-01 in
    ``AADAP_TIMEZONE``. Prefect anchors an interval at the moment the schedule is built
    when none is given, so every restart of ``aadap serve`` moved the cadence (a restart
    every four minutes, and a five-minute watch never ran); from a fixed anchor a
    restart keeps the times (every 300 s: :00, :05, :10, …)."""
    return dt.datetime(2026, 1, 1, tzinfo=zoneinfo.ZoneInfo(tz))


def _sync(deployment: object) -> RunnerDeployment:
    """``to_deployment`` dispatches on the calling context; ``build`` is always called synchronously."""
    return cast(RunnerDeployment, deployment)


def lifecycle_deployment() -> str:
    return f"task-lifecycle/{DEPLOYMENT_NAMES['task-lifecycle']}"
