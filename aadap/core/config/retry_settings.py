"""``AADAP_RETRIES_*``: how often a failed step is retried, and the waits between tries."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aadap.core.config._group import SettingsGroup


class RetrySettings(SettingsGroup):
    model_config = SettingsConfigDict(env_prefix="AADAP_RETRIES_")

    task_retries: int = Field(default=3, ge=0, le=20)
    backoff_seconds: float = Field(default=1.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    jitter_factor: float = Field(default=0.5, ge=0)
    max_delay_seconds: float = Field(default=60.0, ge=0)

    def delays(self) -> list[float]:
        """Per-attempt delays for Prefect's ``retry_delay_seconds`` (capped, exponential)."""
        return [
            min(self.backoff_seconds * self.backoff_factor**attempt, self.max_delay_seconds)
            for attempt in range(max(self.task_retries, 1))
        ]


__all__ = ["RetrySettings"]
