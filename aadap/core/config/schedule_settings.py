"""``AADAP_SCHEDULES_*``: when the served deployments run."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup


class ScheduleSettings(SettingsGroup):
    """When the served deployments run (time zone: ``AADAP_TIMEZONE``). Checked by ``aadap serve``."""

    model_config = SettingsConfigDict(env_prefix="AADAP_SCHEDULES_")

    cost_report_cron: str = Field(default="0 6 * * *", description="cron for the daily cost report")
    budget_watch_seconds: int = Field(
        default=300, ge=10, description="how often spend is checked against budgets"
    )
    connection_health_seconds: int = Field(default=900, ge=30)
    reconcile_seconds: int = Field(default=3600, ge=60)
    runner_poll_seconds: float = Field(
        default=0.5,
        ge=0.1,
        le=60,
        description="how often `aadap serve` polls for runs: half of it is the mean wait "
        "before a triggered or resumed run is picked up",
    )
    serve_handover_seconds: float = Field(
        default=600.0,
        ge=0,
        description="how long a new `aadap serve` waits for a stopping one to finish its runs",
    )


__all__ = ["ScheduleSettings"]
