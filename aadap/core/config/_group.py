"""What every settings group shares: the ``.env`` file, and empty meaning "not set"."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_FILE = ".env"
"""Read from the current directory (variables in the environment win), as Prefect does."""


class SettingsGroup(BaseSettings):
    # An empty variable means "not set" (the default), as ``.env.example`` writes them.
    model_config = SettingsConfigDict(
        extra="ignore", env_file=ENV_FILE, env_ignore_empty=True, validate_default=True
    )


__all__ = ["ENV_FILE", "SettingsGroup"]
