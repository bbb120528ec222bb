"""The root :class:`Settings` (``AADAP_*``): the home, data root, secret key and the groups."""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aadap.core.config._group import ENV_FILE
from aadap.core.config.budget_settings import BudgetSettings
from aadap.core.config.database_settings import DatabaseSettings
from aadap.core.config.llm_settings import LLMSettings
from aadap.core.config.masking import mask_secret, mask_url
from aadap.core.config.platform_settings import PlatformSettings
from aadap.core.config.retry_settings import RetrySettings
from aadap.core.config.safety_settings import SafetySettings
from aadap.core.config.schedule_settings import ScheduleSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AADAP_", extra="ignore", env_file=ENV_FILE, validate_default=True
    )

    home: Path = Field(default_factory=lambda: Path.home() / ".aadap")
    data_root: Path | None = Field(
        default=None,
        description="the folder data paths in requests resolve against and may not leave; "
        "default: the directory the command runs in (`aadap serve` records its own for its runs)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first, for secrets at rest",
    )
    max_self_corrections: int = Field(default=3, ge=0, le=10)
    timezone: str = "UTC"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    retention_days: int = Field(default=90, ge=1)
    prefect_server: Literal["background", "ephemeral"] = Field(
        default="background",
        description="without PREFECT_API_URL: background = `aadap run` starts a local Prefect "
        "server on first use and later commands reuse it (`aadap server stop` ends it); "
        "ephemeral = Prefect's per-command API, started and stopped with each command",
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    platforms: PlatformSettings = Field(default_factory=PlatformSettings)
    budgets: BudgetSettings = Field(default_factory=BudgetSettings)
    retries: RetrySettings = Field(default_factory=RetrySettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    schedules: ScheduleSettings = Field(default_factory=ScheduleSettings)

    @field_validator("home", mode="before")
    @classmethod
    def _home_not_blank(cls, value: Any) -> Any:
        # Path("") is the current directory: an empty AADAP_HOME would silently put the
        # database wherever the command happens to run.
        if isinstance(value, str) and not value.strip():
            raise ValueError("the path is empty; give a directory, or unset it for ~/.aadap")
        return value

    @field_validator("data_root", mode="before")
    @classmethod
    def _data_root_unset_when_blank(cls, value: Any) -> Any:
        # an empty value means "not set" (as in .env.example): the current directory
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_root", mode="after")
    @classmethod
    def _data_root_is_a_directory(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser().resolve()
        if not path.is_dir():
            raise ValueError(f"{path} is not a directory; give the folder your data files are in")
        return path

    @field_validator("home", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as UTC or Europe/Paris"
            ) from exc
        return value

    @model_validator(mode="after")
    def _check_llm(self) -> Settings:
        if self.llm.provider == "openai" and not self.llm.base_url:
            raise ValueError("llm.base_url is required when AADAP_LLM_PROVIDER=openai")
        return self

    @property
    def database_url(self) -> str:
        if self.database.url is not None:
            return self.database.url.get_secret_value()
        return f"sqlite+aiosqlite:///{self.home / 'aadap.db'}"

    @property
    def resolved_data_root(self) -> Path:
        """The data root: ``AADAP_DATA_ROOT``, else the directory the process runs in."""
        return self.data_root if self.data_root is not None else Path.cwd().resolve()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def public_view(self) -> dict[str, Any]:
        """Everything, with secrets masked: what ``aadap config show`` prints."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = mask_url(self.database_url)
        data["secret_key"] = mask_secret(self.secret_key)
        data["llm"]["api_key"] = mask_secret(self.llm.api_key)
        return data


__all__ = ["Settings"]
