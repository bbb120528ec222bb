"""``AADAP_BUDGETS_*``: the token and USD budgets per task, day and month."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup

BUDGET_OFF = ("off", "none")
"""Values that switch a USD budget off (case-insensitive)."""


def _budget_off(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in BUDGET_OFF:
        return None
    return value


class BudgetSettings(SettingsGroup):
    model_config = SettingsConfigDict(env_prefix="AADAP_BUDGETS_")

    task_tokens: int = Field(default=50_000, ge=0, description="default token budget per task")
    task_usd: Decimal | None = Field(
        default=Decimal("1.00"),
        ge=0,
        allow_inf_nan=False,
        description="default USD budget per task; `off` (or `none`) switches it off",
    )
    daily_usd: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    monthly_usd: Decimal | None = Field(default=None, ge=0, allow_inf_nan=False)
    hard_limit_percent: int = Field(default=100, ge=1)

    @field_validator("task_usd", "daily_usd", "monthly_usd", mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        return _budget_off(value)


__all__ = ["BUDGET_OFF", "BudgetSettings"]
